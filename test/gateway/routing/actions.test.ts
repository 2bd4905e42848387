// What a match hands the proxy: the rule's compiled filters, timeouts and backends, and clear
// errors for what cannot compile.
import test from "ava";
import { PortRouter } from "../../../gateway/routing/router.js";
import { portSchema } from "../../../gateway/snapshot.js";
import { type EntrySpec, listener, portRouter, prefix, req } from "../../support/routing-port.js";

const matchOf = (spec: EntrySpec, path = "/") =>
  portRouter(listener("l", undefined, [spec])).route(req("h", path));

test("route and rule names and timeouts come with the action; missing timeouts stay unset, 0 stays 0 (disabled)", (t) => {
  const timed = matchOf({
    route: "ns/r",
    action: { rule: "api", timeouts: { requestMs: 5000, backendRequestMs: 1000 } },
  });
  t.is(timed?.action.route, "ns/r");
  t.is(timed?.action.rule, "api");
  t.is(timed?.action.requestTimeoutMs, 5000);
  t.is(timed?.action.backendRequestTimeoutMs, 1000);
  const plain = matchOf({});
  t.is(plain?.action.requestTimeoutMs, undefined);
  t.is(plain?.action.backendRequestTimeoutMs, undefined);
  t.is(plain?.action.retry, undefined);
  const disabled = matchOf({ action: { timeouts: { requestMs: 0, backendRequestMs: 0 } } });
  t.is(disabled?.action.requestTimeoutMs, 0);
  t.is(disabled?.action.backendRequestTimeoutMs, 0);
});

test("header modifiers are compiled with lower-case names; empty ones are dropped", (t) => {
  const m = matchOf({
    action: {
      filters: [
        {
          type: "RequestHeaderModifier",
          requestHeaderModifier: {
            set: [{ name: "X-Set", value: "1" }],
            add: [{ name: "X-Add", value: "2" }],
            remove: ["X-Gone"],
          },
        },
        { type: "ResponseHeaderModifier", responseHeaderModifier: {} },
      ],
    },
  });
  t.deepEqual(m?.action.requestHeaders, { set: [["x-set", "1"]], add: [["x-add", "2"]], remove: ["x-gone"] });
  t.is(m?.action.responseHeaders, undefined);
});

test("a redirect filter compiles with its status code and no backend is needed", (t) => {
  const m = matchOf(
    {
      path: prefix("/old"),
      action: {
        backends: [],
        filters: [
          {
            type: "RequestRedirect",
            requestRedirect: {
              scheme: "https",
              port: 8443,
              path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/new" },
            },
          },
        ],
      },
    },
    "/old/x",
  );
  t.deepEqual(m?.action.redirect, {
    scheme: "https",
    port: 8443,
    path: { type: "ReplacePrefixMatch", value: "/new" },
    statusCode: 302,
  });
  t.is(m?.matchedPrefix, "/old");
  t.is(m?.action.pickBackend(0.5), undefined);
});

test("URLRewrite compiles hostname and path", (t) => {
  const m = matchOf({
    action: {
      filters: [
        {
          type: "URLRewrite",
          urlRewrite: { hostname: "internal.svc", path: { type: "ReplaceFullPath", replaceFullPath: "/v2" } },
        },
      ],
    },
  });
  t.deepEqual(m?.action.rewrite, {
    hostname: "internal.svc",
    path: { type: "ReplaceFullPath", value: "/v2" },
  });
  t.is(m?.action.redirect, undefined);
});

test("backend-level filters are compiled per backend", (t) => {
  const m = matchOf({
    action: {
      backends: [
        {
          cluster: "a",
          weight: 1,
          filters: [
            {
              type: "RequestHeaderModifier",
              requestHeaderModifier: { set: [{ name: "X-Backend", value: "a" }] },
            },
            { type: "URLRewrite", urlRewrite: { hostname: "a.internal" } },
          ],
        },
        { cluster: "b", weight: 1 },
      ],
    },
  });
  const a = m?.action.pickBackend(0.1);
  const b = m?.action.pickBackend(0.9);
  t.deepEqual(a?.requestHeaders, { set: [["x-backend", "a"]], add: [], remove: [] });
  t.deepEqual(a?.rewrite, { hostname: "a.internal" });
  t.is(b?.cluster, "b");
  t.is(b?.requestHeaders, undefined);
  t.is(b?.rewrite, undefined);
});

test("entries sharing an action share one compiled action", (t) => {
  const port = portSchema.parse({
    port: 80,
    protocol: "HTTP",
    listeners: [
      {
        name: "l",
        gateway: "g",
        entries: [
          { match: { path: { type: "Exact", value: "/a" } }, action: 0 },
          { match: { path: { type: "Exact", value: "/b" } }, action: 0 },
        ],
        actions: [{ route: "r", rule: "0", backends: [{ cluster: "c", weight: 1 }] }],
      },
    ],
  });
  const r = new PortRouter(port);
  t.is(r.route(req("h", "/a"))?.action, r.route(req("h", "/b"))?.action);
});

test("an invalid regular expression is refused with the listener, entry and pattern named", (t) => {
  const port = portSchema.parse({
    port: 80,
    protocol: "HTTP",
    listeners: [
      listener("ns/gw/web", undefined, [
        {},
        { headers: [{ type: "RegularExpression", name: "x-a", value: "(" }] },
      ]),
    ],
  });
  const err = t.throws(() => new PortRouter(port));
  t.regex(err?.message ?? "", /listener ns\/gw\/web entry 1 header x-a: invalid regular expression "\("/);
});

test("an entry pointing at a missing action is refused with a clear message", (t) => {
  const port = portSchema.parse({
    port: 80,
    protocol: "HTTP",
    listeners: [
      {
        name: "ns/gw/web",
        gateway: "g",
        entries: [{ match: { path: { type: "PathPrefix", value: "/" } }, action: 3 }],
      },
    ],
  });
  t.throws(() => new PortRouter(port), { message: "listener ns/gw/web entry 0: action 3 does not exist" });
});
