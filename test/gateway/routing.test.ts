// Route table and filters as pure functions: no sockets.
import test from "ava";
import { applyHeaderModifier, redirectLocation, rewritePath } from "../../gateway/routing/filters.js";
import type { RequestInfo } from "../../gateway/routing/request.js";
import { PortRouter } from "../../gateway/routing/router.js";
import { type PortInput, portSchema } from "../../gateway/snapshot.js";

function req(host: string, path: string, extra: Partial<RequestInfo> = {}): RequestInfo {
  return { host, path, method: "GET", query: "", headers: {}, ...extra };
}

type EntrySpec = {
  hostnames?: string[];
  path?: [string, string];
  method?: string;
  headers?: [string, string, string?][];
  query?: [string, string][];
};

function listenerOf(name: string, hostname: string | undefined, entries: EntrySpec[]) {
  return {
    name,
    gateway: "default/gw",
    ...(hostname !== undefined && { hostname }),
    entries: entries.map((e, i) => ({
      hostnames: e.hostnames ?? [],
      match: {
        path: { type: (e.path?.[0] ?? "PathPrefix") as "Exact", value: e.path?.[1] ?? "/" },
        ...(e.method !== undefined && { method: e.method }),
        headers: (e.headers ?? []).map(([n, v, type]) => ({
          name: n,
          value: v,
          type: (type ?? "Exact") as "Exact",
        })),
        queryParams: (e.query ?? []).map(([n, v]) => ({ name: n, value: v, type: "Exact" as const })),
      },
      action: i,
    })),
    actions: entries.map((_, i) => ({
      route: `${name}#${i}`,
      rule: "0",
      backends: [{ cluster: "c", weight: 1 }],
    })),
  };
}

function router(listeners: ReturnType<typeof listenerOf>[]): PortRouter {
  const port: PortInput = { port: 80, protocol: "HTTP", listeners };
  return new PortRouter(portSchema.parse(port));
}

const routeOf = (r: PortRouter, request: RequestInfo) => r.route(request)?.action.route;

test("listener isolation: the most specific listener hostname owns the request", (t) => {
  const r = router([
    listenerOf("any", undefined, [{}]),
    listenerOf("wild", "*.example.com", [{ path: ["Exact", "/only"] }]),
    listenerOf("exact", "api.example.com", [{}]),
  ]);
  t.is(routeOf(r, req("api.example.com", "/x")), "exact#0");
  t.is(routeOf(r, req("www.example.com", "/only")), "wild#0");
  // The wildcard listener owns www.example.com: its missing route is a 404, not the catch-all's.
  t.is(routeOf(r, req("www.example.com", "/other")), undefined);
  t.is(routeOf(r, req("a.b.example.com", "/only")), "wild#0");
  t.is(routeOf(r, req("example.com", "/x")), "any#0");
});

test("within a listener, exact hostnames before longer wildcards before any host, falling through on no match", (t) => {
  const r = router([
    listenerOf("l", undefined, [
      { hostnames: ["*.example.com"], path: ["PathPrefix", "/"] },
      { hostnames: ["shop.example.com"], path: ["PathPrefix", "/cart"] },
      { hostnames: ["*.shop.example.com"] },
      { path: ["PathPrefix", "/"] },
    ]),
  ]);
  t.is(routeOf(r, req("shop.example.com", "/cart/1")), "l#1");
  t.is(routeOf(r, req("shop.example.com", "/home")), "l#0");
  t.is(routeOf(r, req("eu.shop.example.com", "/")), "l#2");
  t.is(routeOf(r, req("other.org", "/")), "l#3");
});

test("PathPrefix matches whole segments; Exact and RegularExpression match the full path", (t) => {
  const r = router([
    listenerOf("l", undefined, [
      { path: ["Exact", "/exact"] },
      { path: ["PathPrefix", "/foo/"] },
      { path: ["RegularExpression", "/items/[0-9]+"] },
    ]),
  ]);
  for (const p of ["/foo", "/foo/", "/foo/bar"]) t.is(routeOf(r, req("h", p)), "l#1", p);
  t.is(routeOf(r, req("h", "/foobar")), undefined);
  t.is(routeOf(r, req("h", "/exact")), "l#0");
  t.is(routeOf(r, req("h", "/exact/more")), undefined);
  t.is(routeOf(r, req("h", "/items/42")), "l#2");
  t.is(routeOf(r, req("h", "/items/42x")), undefined);
  t.is(r.route(req("h", "/foo/bar"))?.matchedPrefix, "/foo/");
});

test("method, header (exact and regex) and query parameter conditions must all hold", (t) => {
  const r = router([
    listenerOf("l", undefined, [
      {
        method: "POST",
        headers: [
          ["x-version", "2"],
          ["x-user", "^adm.*", "RegularExpression"],
        ],
        query: [["debug", "on"]],
      },
      { method: "POST" },
    ]),
  ]);
  const headers = { "x-version": "2", "x-user": "admin" };
  t.is(routeOf(r, req("h", "/", { method: "POST", headers, query: "debug=on&debug=off" })), "l#0");
  t.is(routeOf(r, req("h", "/", { method: "POST", headers, query: "debug=off&debug=on" })), "l#1");
  t.is(
    routeOf(
      r,
      req("h", "/", { method: "POST", headers: { ...headers, "x-user": "guest" }, query: "debug=on" }),
    ),
    "l#1",
  );
  t.is(routeOf(r, req("h", "/", { method: "GET", headers, query: "debug=on" })), undefined);
});

test("weighted backends: picks follow cumulative weights and weight 0 is never chosen", (t) => {
  const port: PortInput = {
    port: 80,
    protocol: "HTTP",
    listeners: [
      {
        name: "l",
        gateway: "g",
        entries: [{ match: { path: { type: "PathPrefix", value: "/" } }, action: 0 }],
        actions: [
          {
            route: "r",
            rule: "0",
            backends: [
              { cluster: "a", weight: 3 },
              { cluster: "zero", weight: 0 },
              { cluster: "b", weight: 1 },
            ],
          },
          { route: "none", rule: "0", backends: [{ cluster: "x", weight: 0 }] },
        ],
      },
    ],
  };
  const action = new PortRouter(portSchema.parse(port)).route(req("h", "/"))?.action;
  t.is(action?.pickBackend(0)?.cluster, "a");
  t.is(action?.pickBackend(0.74)?.cluster, "a");
  t.is(action?.pickBackend(0.75)?.cluster, "b");
  t.is(action?.pickBackend(0.999)?.cluster, "b");
});

test("header modifiers set, add and remove case-insensitively", (t) => {
  const headers: Record<string, string> = { accept: "a", "x-remove": "1", "x-multi": "one" };
  applyHeaderModifier(headers, {
    set: [["accept", "b"]],
    add: [
      ["x-multi", "two"],
      ["x-new", "n"],
    ],
    remove: ["x-remove"],
  });
  t.deepEqual(headers, { accept: "b", "x-multi": "one, two", "x-new": "n" });
});

test("ReplacePrefixMatch keeps segment boundaries; ReplaceFullPath replaces everything", (t) => {
  const prefix = (value: string) => ({ path: { type: "ReplacePrefixMatch" as const, value } });
  t.is(rewritePath("/foo/baz", "/foo", prefix("/bar")), "/bar/baz");
  t.is(rewritePath("/foo/baz", "/foo", prefix("/")), "/baz");
  t.is(rewritePath("/foo", "/foo", prefix("/bar")), "/bar");
  t.is(rewritePath("/foo/", "/foo", prefix("/bar")), "/bar/");
  t.is(rewritePath("/x", "/", prefix("/api")), "/api/x");
  t.is(rewritePath("/foo/baz", "/foo/", prefix("/bar/")), "/bar/baz");
  t.is(
    rewritePath("/any/thing", undefined, { path: { type: "ReplaceFullPath", value: "/fixed" } }),
    "/fixed",
  );
});

test("redirect Location: scheme implies its port, explicit ports kept unless default, query preserved", (t) => {
  const r = req("shop.example", "/old/page", { query: "a=1" });
  t.is(
    redirectLocation(r, "http", 8080, undefined, { statusCode: 302, scheme: "https" }),
    "https://shop.example/old/page?a=1",
  );
  t.is(
    redirectLocation(r, "http", 8080, undefined, { statusCode: 302 }),
    "http://shop.example:8080/old/page?a=1",
  );
  t.is(
    redirectLocation(r, "http", 80, undefined, { statusCode: 302, hostname: "new.example" }),
    "http://new.example/old/page?a=1",
  );
  t.is(
    redirectLocation(r, "http", 80, undefined, { statusCode: 302, scheme: "https", port: 8443 }),
    "https://shop.example:8443/old/page?a=1",
  );
  t.is(
    redirectLocation(r, "http", 80, "/old", {
      statusCode: 301,
      path: { type: "ReplacePrefixMatch", value: "/new" },
    }),
    "http://shop.example/new/page?a=1",
  );
});
