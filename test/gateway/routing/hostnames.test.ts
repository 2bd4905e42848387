// Route hostnames within one listener: exact, then longer wildcards, then any host, with
// fall-through to the less specific groups when nothing more specific matches.
import test from "ava";
import { exact, listener, portRouter, prefix, req, routed } from "../../support/routing-port.js";

const r = portRouter(
  listener("l", undefined, [
    { hostnames: ["*.example.com"], path: prefix("/") },
    { hostnames: ["shop.example.com"], path: prefix("/cart") },
    { hostnames: ["*.shop.example.com"], path: prefix("/") },
    { path: prefix("/") },
    { hostnames: ["shop.example.com"], path: exact("/health") },
  ]),
);

test("an exact hostname entry wins over wildcard and any-host entries given before it", (t) => {
  t.is(routed(r, req("shop.example.com", "/cart/1")), "l#1");
  t.is(routed(r, req("shop.example.com", "/health")), "l#4");
});

test("falls through from the exact hostname group to the wildcard group", (t) => {
  t.is(routed(r, req("shop.example.com", "/home")), "l#0");
});

test("the longer wildcard is tried first, the shorter still catches the rest", (t) => {
  t.is(routed(r, req("eu.shop.example.com", "/")), "l#2");
  t.is(routed(r, req("a.b.shop.example.com", "/")), "l#2");
  t.is(routed(r, req("www.example.com", "/")), "l#0");
});

test("hosts no entry names reach the any-host entries", (t) => {
  t.is(routed(r, req("other.org", "/")), "l#3");
  t.is(routed(r, req("example.com", "/")), "l#3");
});

test("within a hostname group the given order decides", (t) => {
  const ordered = portRouter(
    listener("l", undefined, [
      { hostnames: ["a.com"], path: prefix("/") },
      { hostnames: ["a.com"], path: exact("/x") },
    ]),
  );
  // The translator placed the prefix first; the table must not reorder.
  t.is(routed(ordered, req("a.com", "/x")), "l#0");
});

test("fall-through covers exact, each matching wildcard from longest, then any host", (t) => {
  const chain = portRouter(
    listener("l", undefined, [
      { path: exact("/d") },
      { hostnames: ["*.a.com"], path: exact("/c") },
      { hostnames: ["*.x.a.com"], path: exact("/b") },
      { hostnames: ["y.x.a.com"], path: exact("/a") },
    ]),
  );
  t.is(routed(chain, req("y.x.a.com", "/a")), "l#3");
  // Hosts named exactly and hosts only a wildcard covers take the same way down.
  for (const host of ["y.x.a.com", "z.x.a.com"]) {
    t.is(routed(chain, req(host, "/b")), "l#2", host);
    t.is(routed(chain, req(host, "/c")), "l#1", host);
    t.is(routed(chain, req(host, "/d")), "l#0", host);
    t.is(chain.route(req(host, "/e")), undefined, host);
  }
  t.is(chain.route(req("z.x.a.com", "/a")), undefined);
});

test("an entry with several hostnames is reachable through each, at each one's specificity", (t) => {
  const multi = portRouter(
    listener("l", undefined, [
      { hostnames: ["*.example.com"], path: prefix("/") },
      { hostnames: ["a.example.com", "b.example.org"], path: prefix("/") },
    ]),
  );
  t.is(routed(multi, req("a.example.com", "/")), "l#1");
  t.is(routed(multi, req("b.example.org", "/")), "l#1");
  t.is(routed(multi, req("c.example.com", "/")), "l#0");
  t.is(multi.route(req("c.example.org", "/")), undefined);
});

test('a "*" hostname behaves as any host', (t) => {
  const star = portRouter(
    listener("l", undefined, [
      { hostnames: ["*"], path: prefix("/") },
      { hostnames: ["a.com"], path: prefix("/") },
    ]),
  );
  t.is(routed(star, req("a.com", "/")), "l#1");
  t.is(routed(star, req("b.com", "/")), "l#0");
});

test("wildcard entries inside a wildcard listener keep isolation from other listeners", (t) => {
  const ports = portRouter(
    listener("wild", "*.example.com", [{ hostnames: ["*.example.com"], path: prefix("/") }]),
    listener("exact", "a.example.com", [{ path: exact("/x") }]),
  );
  t.is(routed(ports, req("b.example.com", "/y")), "wild#0");
  t.is(ports.route(req("a.example.com", "/y")), undefined);
});

test("many unrelated hostnames do not change which entry a host reaches", (t) => {
  const entries = Array.from({ length: 200 }, (_, i) => ({
    hostnames: [`h${i}.example.com`],
    path: prefix("/"),
    route: `host-${i}`,
  }));
  const big = portRouter(listener("l", undefined, [...entries, { path: prefix("/"), route: "fallback" }]));
  t.is(routed(big, req("h0.example.com", "/")), "host-0");
  t.is(routed(big, req("h137.example.com", "/a/b")), "host-137");
  t.is(routed(big, req("h200.example.com", "/")), "fallback");
});
