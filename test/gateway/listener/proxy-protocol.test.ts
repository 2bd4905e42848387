// PROXY protocol v1 and v2 headers: the client addresses a listener would report, where the
// payload starts, every way a header arrives split over reads, and every way it is wrong.
import net from "node:net";
import test from "ava";
import { type ProxyHeaderResult, parseProxyHeader } from "../../../gateway/listener/proxy-protocol.js";

const SIGNATURE = Buffer.from("0d0a0d0a000d0a515549540a", "hex");
const PAYLOAD = Buffer.from("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");

/** A v2 header: version/command byte, family/protocol byte, then the address block. */
function v2(versionCommand: number, familyProtocol: number, block: Buffer = Buffer.alloc(0)): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(block.length);
  return Buffer.concat([SIGNATURE, Buffer.from([versionCommand, familyProtocol]), length, block]);
}

function ports(source: number, destination: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt16BE(source, 0);
  bytes.writeUInt16BE(destination, 2);
  return bytes;
}

const ipv4 = (text: string) => Buffer.from(text.split(".").map(Number));
/** Sixteen bytes from eight hex words, so the test does not lean on the parser's own helper. */
const ipv6 = (words: number[]) => Buffer.concat(words.map((w) => Buffer.from([w >> 8, w & 0xff])));

/** Calls the parser after every byte, as a listener reading one byte at a time would. */
function everyPrefix(bytes: Buffer): { early: ProxyHeaderResult[]; final: ProxyHeaderResult } {
  const early: ProxyHeaderResult[] = [];
  for (let end = 1; end < bytes.length; end++) {
    const result = parseProxyHeader(bytes.subarray(0, end));
    if (result.kind !== "need-more") early.push(result);
  }
  return { early, final: parseProxyHeader(bytes) };
}

const v1 = (line: string) => Buffer.from(line, "latin1");
const LINK_LOCAL = ipv6([0xfe80, 0, 0, 0, 0, 0, 0, 1]);
const LOOPBACK = ipv6([0, 0, 0, 0, 0, 0, 0, 1]);

/** Deterministic numbers in [0, 1) (a 32-bit LCG), so a failing case can be replayed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

test("v1 TCP4 gives both endpoints, and the payload starts at headerLength", (t) => {
  const header = v1("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
  const bytes = Buffer.concat([header, PAYLOAD]);
  t.deepEqual(parseProxyHeader(bytes), {
    kind: "proxy",
    version: 1,
    command: "proxy",
    transport: "tcp",
    source: { address: "192.168.0.1", family: "IPv4", port: 56324 },
    destination: { address: "192.168.0.11", family: "IPv4", port: 443 },
    headerLength: header.length,
  });
  t.deepEqual(bytes.subarray(header.length), PAYLOAD);
});

test("v1 TCP6 addresses come back in Node's compressed spelling", (t) => {
  const line = "PROXY TCP6 2001:0DB8:0000:0000:0000:0000:0000:0001 ::FFFF:10.0.0.1 65535 0\r\n";
  const result = parseProxyHeader(v1(line));
  t.like(result, {
    kind: "proxy",
    source: { address: "2001:db8::1", family: "IPv6", port: 65535 },
    destination: { address: "::ffff:10.0.0.1", family: "IPv6", port: 0 },
  });
});

test("v1 UNKNOWN carries no addresses, whatever follows it on the line", (t) => {
  const lines = [
    "PROXY UNKNOWN\r\n",
    "PROXY UNKNOWN ffff::1 ffff::2 65535 65535\r\n",
    "PROXY UNKNOWN anything at all\r\n",
  ];
  for (const line of lines) {
    const result = parseProxyHeader(Buffer.concat([v1(line), PAYLOAD]));
    t.deepEqual(result, { kind: "proxy", version: 1, command: "proxy", headerLength: line.length }, line);
  }
});

test("v1 lines up to 107 bytes are read; a longer one is refused without waiting for CRLF", (t) => {
  const word = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const longest = `PROXY UNKNOWN ${word} ${word} 65535 65535\r\n`;
  t.is(longest.length, 107);
  t.like(parseProxyHeader(v1(longest)), { kind: "proxy", headerLength: 107 });
  const tooLong = v1(`PROXY UNKNOWN ${word} ${word} 65535 655350\r\n`);
  t.like(parseProxyHeader(tooLong.subarray(0, 107)), { kind: "invalid" });
  t.like(parseProxyHeader(tooLong.subarray(0, 106)), { kind: "need-more" });
});

test("malformed v1 lines are invalid", (t) => {
  const lines = [
    "PROXY TCP4 192.168.0.1 192.168.0.11 56324 65536\r\n", // port out of range
    "PROXY TCP4 192.168.0.1 192.168.0.11 0443 443\r\n", // leading zero
    "PROXY TCP4 192.168.0.1 192.168.0.11 -1 443\r\n",
    "PROXY TCP4 192.168.0.1 192.168.0.11 http 443\r\n",
    "PROXY TCP4 192.168.0.1 192.168.0.11  443\r\n", // empty port
    "PROXY TCP4 192.168.0.1 192.168.0.11 1 2 3\r\n", // extra field
    "PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n", // missing field
    "PROXY TCP4 192.168.000.1 192.168.0.11 56324 443\r\n", // octal-looking octet
    "PROXY TCP4 192.168.0.256 192.168.0.11 56324 443\r\n",
    "PROXY TCP4 ::1 192.168.0.11 56324 443\r\n", // family mismatch
    "PROXY TCP6 192.168.0.1 ::1 56324 443\r\n",
    "PROXY TCP6 fe80::1%eth0 ::1 56324 443\r\n", // zone ids are not addresses on the wire
    "PROXY TCP6 1::2::3 ::1 56324 443\r\n",
    "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 56324 443\r\n",
    "PROXY TCP6 12345:: ::1 56324 443\r\n",
    "PROXY TCP6 1:2:3:4:5:6:7:8:: ::1 56324 443\r\n",
    "PROXY TCP5 192.168.0.1 192.168.0.11 56324 443\r\n",
    "PROXY  TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", // two spaces
    "PROXY UNKNOWN\n", // bare LF
    "PROXY UNKNOWN x\n", // bare LF that would leave a valid line if taken for CRLF
    "PROXY \r\n",
    "proxy TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
    "GET / HTTP/1.1\r\n",
  ];
  for (const line of lines) t.like(parseProxyHeader(v1(line)), { kind: "invalid" }, JSON.stringify(line));
});

test("v2 TCP over IPv4", (t) => {
  const header = v2(0x21, 0x11, Buffer.concat([ipv4("10.1.2.3"), ipv4("10.9.8.7"), ports(40000, 8443)]));
  t.deepEqual(parseProxyHeader(Buffer.concat([header, PAYLOAD])), {
    kind: "proxy",
    version: 2,
    command: "proxy",
    transport: "tcp",
    source: { address: "10.1.2.3", family: "IPv4", port: 40000 },
    destination: { address: "10.9.8.7", family: "IPv4", port: 8443 },
    headerLength: 28,
  });
});

test("v2 UDP over IPv6, compressed like Node would", (t) => {
  const source = ipv6([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]);
  const destination = ipv6([0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201]);
  const header = v2(0x21, 0x22, Buffer.concat([source, destination, ports(53, 5353)]));
  t.like(parseProxyHeader(header), {
    kind: "proxy",
    transport: "udp",
    source: { address: "2001:db8::1:0:0:1", family: "IPv6", port: 53 },
    destination: { address: "::ffff:192.0.2.1", family: "IPv6", port: 5353 },
    headerLength: 52,
  });
});

test("v2 TLVs after the addresses are skipped but counted in headerLength", (t) => {
  const authority = Buffer.concat([Buffer.from([0x02, 0x00, 0x0b]), Buffer.from("example.com")]);
  const noop = Buffer.from([0x04, 0x00, 0x03, 0, 0, 0]);
  const addresses = Buffer.concat([ipv4("203.0.113.5"), ipv4("10.0.0.1"), ports(1, 443)]);
  const header = v2(0x21, 0x11, Buffer.concat([addresses, authority, noop]));
  const bytes = Buffer.concat([header, PAYLOAD]);
  const result = parseProxyHeader(bytes);
  t.like(result, { kind: "proxy", source: { address: "203.0.113.5", port: 1 }, headerLength: header.length });
  t.deepEqual(bytes.subarray(header.length), PAYLOAD);
});

test("v2 LOCAL ignores the family byte and any address bytes", (t) => {
  const local = { kind: "proxy", version: 2, command: "local" };
  t.deepEqual(parseProxyHeader(v2(0x20, 0x00)), { ...local, headerLength: 16 });
  const withBlock = v2(0x20, 0x11, Buffer.concat([ipv4("1.2.3.4"), ipv4("5.6.7.8"), ports(1, 2)]));
  t.deepEqual(parseProxyHeader(withBlock), { ...local, headerLength: 28 });
  t.like(parseProxyHeader(v2(0x20, 0xff)), { kind: "proxy", command: "local" });
});

test("v2 UNSPEC and AF_UNIX report no addresses", (t) => {
  const noAddresses = { kind: "proxy", version: 2, command: "proxy" };
  t.deepEqual(parseProxyHeader(v2(0x21, 0x00)), { ...noAddresses, headerLength: 16 });
  t.deepEqual(parseProxyHeader(v2(0x21, 0x10)), { ...noAddresses, headerLength: 16 }, "IPv4, UNSPEC");
  t.deepEqual(parseProxyHeader(v2(0x21, 0x31, Buffer.alloc(216))), { ...noAddresses, headerLength: 232 });
});

test("malformed v2 headers are invalid as soon as the fixed 16 bytes show it", (t) => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ["version 1", v2(0x11, 0x11), /version 1/],
    ["version 3", v2(0x31, 0x11), /version 3/],
    ["command 2", v2(0x22, 0x11), /command 2/],
    ["family 4", v2(0x21, 0x41), /0x41/],
    ["protocol 3", v2(0x21, 0x13), /0x13/],
    ["IPv4 block of 11 bytes", v2(0x21, 0x11, Buffer.alloc(11)), /11 bytes is too short/],
    ["IPv6 block of 35 bytes", v2(0x21, 0x21, Buffer.alloc(35)), /35 bytes is too short/],
    ["UNIX block of 215 bytes", v2(0x21, 0x31, Buffer.alloc(215)), /215 bytes is too short/],
  ];
  for (const [name, header, reason] of cases) {
    const result = parseProxyHeader(header.subarray(0, 16));
    t.is(result.kind, "invalid", name);
    t.regex("reason" in result ? result.reason : "", reason, name);
  }
  const wrongSignature = Buffer.from(v2(0x21, 0x00));
  wrongSignature[11] = 0x0b;
  t.like(parseProxyHeader(wrongSignature), { kind: "invalid" });
});

test("a header split over reads is need-more until its last byte, in both versions", (t) => {
  const headers = [
    v1("PROXY TCP6 2001:db8::5 2001:db8::6 1234 443\r\n"),
    v1("PROXY UNKNOWN\r\n"),
    v2(0x21, 0x21, Buffer.concat([LINK_LOCAL, LOOPBACK, ports(9, 10)])),
    v2(0x21, 0x11, Buffer.concat([ipv4("1.2.3.4"), ipv4("5.6.7.8"), ports(1, 2), Buffer.alloc(300)])),
    v2(0x20, 0x00),
  ];
  for (const header of headers) {
    const { early, final } = everyPrefix(header);
    t.deepEqual(early, []);
    t.like(final, { kind: "proxy", headerLength: header.length });
  }
  t.like(parseProxyHeader(Buffer.alloc(0)), { kind: "need-more" });
  const result = parseProxyHeader(headers[2] ?? Buffer.alloc(0));
  t.like(result, { source: { address: "fe80::1", port: 9 }, destination: { address: "::1", port: 10 } });
});

test("non-PROXY bytes are invalid from the first byte that differs", (t) => {
  t.like(parseProxyHeader(Buffer.from("G")), { kind: "invalid" });
  t.like(parseProxyHeader(Buffer.from([0x16, 3, 1])), { kind: "invalid" });
  t.like(parseProxyHeader(Buffer.from("PROXZ")), { kind: "invalid" });
  t.like(parseProxyHeader(Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x01])), { kind: "invalid" });
  t.like(parseProxyHeader(Buffer.from("PROX")), { kind: "need-more" });
  t.like(parseProxyHeader(SIGNATURE.subarray(0, 7)), { kind: "need-more" });
});

test("IPv6 formatting agrees with node:net for addresses full of zero runs", (t) => {
  const random = seededRandom(7);
  const mismatches: string[] = [];
  for (let round = 0; round < 3000; round++) {
    // Mostly zeros, sometimes 0xffff, so every compression and IPv4-tail rule gets exercised.
    const words = Array.from({ length: 8 }, () => {
      const pick = random();
      return pick < 0.6 ? 0 : pick < 0.7 ? 0xffff : Math.floor(random() * 0x10000);
    });
    const header = v2(0x21, 0x21, Buffer.concat([ipv6(words), ipv6(words.toReversed()), ports(1, 2)]));
    const text = words.map((w) => w.toString(16)).join(":");
    const expected = new net.SocketAddress({ address: text, family: "ipv6" }).address;
    const fromV2 = parseProxyHeader(header);
    // And back through v1, where a sender may spell it uncompressed or already compressed.
    const fromV1 = parseProxyHeader(v1(`PROXY TCP6 ${text} ${expected} 1 2\r\n`));
    const got = [fromV2, fromV1].flatMap((r) => (r.kind === "proxy" ? [r.source?.address] : [r.kind]));
    if (fromV1.kind === "proxy") got.push(fromV1.destination?.address);
    if (got.some((address) => address !== expected)) mismatches.push(`${text}: ${got.join(" ")}`);
  }
  t.deepEqual(mismatches, []);
});

test("random bytes after a valid prefix never throw and never claim more than was read", (t) => {
  const random = seededRandom(11);
  const surprises: string[] = [];
  const v2Proxy = v2(0x21, 0x11).subarray(0, 13);
  const prefixes = [SIGNATURE, v2Proxy, v1("PROXY "), v1("PROXY TCP4 "), v1("PROXY TCP6 ")];
  const alphabet = Buffer.from("0123456789abcdefABCDEF:. \r\nPROXYTCUNKW\0\xff", "latin1");
  for (let round = 0; round < 4000; round++) {
    const prefix = prefixes[round % prefixes.length] ?? SIGNATURE;
    const tail = Array.from({ length: Math.floor(random() * 120) }, () =>
      random() < 0.5 ? (alphabet[Math.floor(random() * alphabet.length)] ?? 0) : Math.floor(random() * 256),
    );
    const input = Buffer.concat([prefix, Buffer.from(tail)]);
    const result = parseProxyHeader(input);
    if (!["need-more", "proxy", "invalid"].includes(result.kind)) surprises.push(`kind ${result.kind}`);
    if (result.kind === "proxy" && result.headerLength > input.length) surprises.push("past the input");
  }
  t.deepEqual(surprises, []);
});
