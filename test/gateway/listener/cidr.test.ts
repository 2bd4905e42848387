// Address ranges for the PROXY protocol's trusted peers: strict parsing with readable reasons,
// IPv4-mapped IPv6 read as IPv4, and the default ranges holding no public address.
import test from "ava";
import fc from "fast-check";
import { AddressRanges, DEFAULT_TRUSTED_PROXY_CIDRS, parseCidr } from "../../../gateway/listener/cidr.js";

test("ranges that say exactly what they mean parse", (t) => {
  for (const text of ["10.0.0.0/8", "0.0.0.0/0", "203.0.113.7/32", "fc00::/7", "::1/128", "::/0", "2001:db8::/32", "::ffff:10.0.0.0/104"]) {
    t.true(parseCidr(text).ok, text);
  }
});

test("ranges that could mean something else are refused, each with its reason", (t) => {
  const cases: [string, RegExp][] = [
    ["10.0.0.1", /needs a prefix length/],
    ["10.0.0.1/8", /bits set after the prefix length \(the network is 10\.0\.0\.0\/8\)/],
    ["2001:db8::1/32", /the network is 2001:db8::\/32/],
    ["::ffff:10.0.0.1/104", /the network is ::ffff:10\.0\.0\.0\/104/],
    ["10.0.0.0/33", /prefix length must be a number from 0 to 32/],
    ["fc00::/129", /from 0 to 128/],
    ["10.0.0.0/08", /prefix length/],
    ["10.0.0.0/", /prefix length/],
    ["10.0.0.0/8/8", /prefix length/],
    ["010.0.0.0/8", /"010\.0\.0\.0" is not an IPv4 or IPv6 address/],
    ["10.0.0/8", /not an IPv4 or IPv6 address/],
    ["fe80::1%eth0/64", /not an IPv4 or IPv6 address/],
    ["example.com/8", /not an IPv4 or IPv6 address/],
    ["", /needs a prefix length/],
  ];
  for (const [text, reason] of cases) {
    const parsed = parseCidr(text);
    t.false(parsed.ok, text);
    if (!parsed.ok) t.regex(parsed.reason, reason, text);
  }
});

test("a peer is in a range by its prefix; IPv4-mapped IPv6 peers match IPv4 ranges", (t) => {
  const ranges = new AddressRanges(["127.0.0.0/8", "10.1.0.0/16", "fc00::/7"]);
  for (const peer of ["127.0.0.1", "::ffff:127.0.0.1", "::FFFF:127.9.9.9", "10.1.255.255", "fd12::1", "fc00::", "fe80::1%lo"]) {
    t.is(ranges.contains(peer), peer !== "fe80::1%lo", peer);
  }
  for (const peer of ["128.0.0.1", "10.2.0.1", "::1", "::127.0.0.1", "fe00::1", "", "garbage", "127.0.0.1/8"]) {
    t.false(ranges.contains(peer), peer);
  }
  // Written the other way round: an IPv4-mapped range covers plain IPv4 peers.
  t.true(new AddressRanges(["::ffff:192.168.0.0/112"]).contains("192.168.3.4"));
  t.true(new AddressRanges(["fe80::/10"]).contains("fe80::1%eth0"), "a zone id is ignored");
});

test("the default ranges hold loopback and private addresses and nothing public", (t) => {
  const ranges = new AddressRanges(DEFAULT_TRUSTED_PROXY_CIDRS);
  for (const peer of ["127.0.0.1", "::1", "::ffff:10.0.0.9", "172.31.255.1", "192.168.1.1", "100.64.0.1", "100.127.255.255", "fd00::5"]) {
    t.true(ranges.contains(peer), peer);
  }
  // Google's health checkers (35.191.0.0/16) and AWS addresses must be listed to be trusted.
  for (const peer of ["35.191.0.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "192.169.0.1", "2001:db8::1", "::2", "fe80::1"]) {
    t.false(ranges.contains(peer), peer);
  }
});

test("generated: an address is in a range exactly when it agrees with the network on the prefix bits", (t) => {
  t.notThrows(() =>
    fc.assert(
      fc.property(fc.ipV4(), fc.ipV4(), fc.integer({ min: 0, max: 32 }), (peer, base, prefix) => {
        const toInt = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
        const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
        const network = (toInt(base) & mask) >>> 0;
        const text = [24, 16, 8, 0].map((s) => (network >>> s) & 255).join(".");
        const ranges = new AddressRanges([`${text}/${prefix}`]);
        const expected = ((toInt(peer) & mask) >>> 0) === network;
        return ranges.contains(peer) === expected && ranges.contains(`::ffff:${peer}`) === expected;
      }),
    ),
  );
});
