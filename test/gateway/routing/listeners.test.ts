// Listener selection on a shared port: the most specific listener hostname owns a request,
// and only its own entries can answer it.
import test from "ava";
import { exact, listener, portRouter, prefix, req, routed } from "../../support/routing-port.js";

test("exact listener hostname beats a wildcard, which beats the listener without hostname", (t) => {
  const r = portRouter(
    listener("any", undefined, [{}]),
    listener("wild", "*.example.com", [{}]),
    listener("api", "api.example.com", [{}]),
  );
  t.is(routed(r, req("api.example.com", "/")), "api#0");
  t.is(routed(r, req("www.example.com", "/")), "wild#0");
  t.is(routed(r, req("example.org", "/")), "any#0");
});

test("a route of one listener never answers on another listener's hostname, even as a 404", (t) => {
  const r = portRouter(
    listener("catch-all", undefined, [{ path: prefix("/") }]),
    listener("shop", "shop.example.com", [{ path: prefix("/cart") }]),
  );
  t.is(routed(r, req("shop.example.com", "/cart/1")), "shop#0");
  // The shop listener owns the host: its missing route is a 404, the catch-all is not consulted.
  t.is(r.route(req("shop.example.com", "/about")), undefined);
  t.is(routed(r, req("blog.example.com", "/about")), "catch-all#0");
});

test("an entry naming another listener's exact hostname is unreachable for that host", (t) => {
  const r = portRouter(
    listener("wild", "*.example.com", [{ hostnames: ["a.example.com"], path: prefix("/") }]),
    listener("a", "a.example.com", [{ path: exact("/only") }]),
  );
  t.is(routed(r, req("a.example.com", "/only")), "a#0");
  t.is(r.route(req("a.example.com", "/other")), undefined);
});

test("a wildcard listener covers one or more labels but not the bare domain", (t) => {
  const r = portRouter(listener("wild", "*.example.com", [{}]));
  t.is(routed(r, req("a.example.com", "/")), "wild#0");
  t.is(routed(r, req("a.b.example.com", "/")), "wild#0");
  t.is(r.route(req("example.com", "/")), undefined);
  t.is(r.route(req("badexample.com", "/")), undefined);
  t.is(r.route(req(".example.com", "/")), undefined);
});

test("the longest wildcard listener wins whatever order the listeners come in", (t) => {
  const listeners = [listener("short", "*.example.com", [{}]), listener("long", "*.eu.example.com", [{}])];
  for (const r of [portRouter(...listeners), portRouter(...listeners.reverse())]) {
    t.is(routed(r, req("shop.eu.example.com", "/")), "long#0");
    t.is(routed(r, req("x.shop.eu.example.com", "/")), "long#0");
    t.is(routed(r, req("eu.example.com", "/")), "short#0");
    t.is(routed(r, req("us.example.com", "/")), "short#0");
  }
});

test("listener order does not matter for exact versus catch-all either", (t) => {
  const r = portRouter(listener("any", undefined, [{}]), listener("exact", "a.example.com", [{}]));
  t.is(routed(r, req("a.example.com", "/")), "exact#0");
  t.is(routed(r, req("b.example.com", "/")), "any#0");
});

test("no listener for the host: no route", (t) => {
  const r = portRouter(listener("a", "a.example.com", [{}]), listener("w", "*.example.net", [{}]));
  t.is(r.route(req("b.example.com", "/")), undefined);
  t.is(r.route(req("example.net", "/")), undefined);
  t.is(portRouter().route(req("a.example.com", "/")), undefined);
});

test("configured hostnames are compared case-insensitively", (t) => {
  const r = portRouter(
    listener("exact", "API.Example.com", [{}]),
    listener("wild", "*.Example.ORG", [{ hostnames: ["Shop.Example.ORG"] }]),
  );
  t.is(routed(r, req("api.example.com", "/")), "exact#0");
  t.is(routed(r, req("shop.example.org", "/")), "wild#0");
});

test("the match names the listener and gateway that took the request", (t) => {
  const r = portRouter(listener("ns/gw/https", "a.example.com", [{}]));
  t.deepEqual(r.route(req("a.example.com", "/"))?.listener, { name: "ns/gw/https", gateway: "default/gw" });
});

test("two listeners with the same hostname: the first one given keeps it", (t) => {
  const r = portRouter(listener("first", "a.example.com", [{}]), listener("second", "a.example.com", [{}]));
  t.is(routed(r, req("a.example.com", "/")), "first#0");
});

test("IPv6 literal hosts reach the listener without hostname", (t) => {
  const r = portRouter(listener("any", undefined, [{}]), listener("wild", "*.example.com", [{}]));
  t.is(routed(r, req("[::1]", "/")), "any#0");
  t.is(routed(r, req("[::ffff:10.0.0.1]", "/")), "any#0");
});
