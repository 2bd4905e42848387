// Header modifiers, path rewrites and redirect locations, per the Gateway API filter specs.
import test from "ava";
import {
  applyHeaderModifier,
  type CompiledRedirect,
  redirectLocation,
  rewritePath,
} from "../../../gateway/routing/filters.js";
import { listener, portRouter, prefix, req } from "../../support/routing-port.js";

test("set replaces or creates, add appends with a comma or creates, remove deletes", (t) => {
  const headers: Record<string, string> = { accept: "a", "x-multi": "one", "x-gone": "1", keep: "k" };
  applyHeaderModifier(headers, {
    set: [
      ["accept", "b"],
      ["x-new-set", "s"],
    ],
    add: [
      ["x-multi", "two"],
      ["x-new-add", "n"],
    ],
    remove: ["x-gone", "x-absent"],
  });
  t.deepEqual(headers, { accept: "b", "x-multi": "one, two", keep: "k", "x-new-set": "s", "x-new-add": "n" });
});

test("header modifiers compiled from the Snapshot ignore the case of configured names", (t) => {
  const r = portRouter(
    listener("l", undefined, [
      {
        action: {
          filters: [
            {
              type: "RequestHeaderModifier",
              requestHeaderModifier: {
                set: [{ name: "X-Tenant", value: "blue" }],
                add: [{ name: "Via", value: "meshgate" }],
                remove: ["Cookie"],
              },
            },
          ],
        },
      },
    ]),
  );
  const mod = r.route(req("h", "/"))?.action.requestHeaders;
  if (mod === undefined) return t.fail("no header modifier compiled");
  const headers: Record<string, string> = { "x-tenant": "red", via: "1.1 edge", cookie: "s=1" };
  applyHeaderModifier(headers, mod);
  t.deepEqual(headers, { "x-tenant": "blue", via: "1.1 edge, meshgate" });
});

const replacePrefix = (value: string) => ({ path: { type: "ReplacePrefixMatch" as const, value } });

test("ReplacePrefixMatch follows the HTTPPathModifier table of the spec", (t) => {
  const rows: [path: string, matched: string, replacement: string, expected: string][] = [
    ["/foo/bar", "/foo", "/xyz", "/xyz/bar"],
    ["/foo/bar", "/foo", "/xyz/", "/xyz/bar"],
    ["/foo/bar", "/foo/", "/xyz", "/xyz/bar"],
    ["/foo/bar", "/foo/", "/xyz/", "/xyz/bar"],
    ["/foo", "/foo", "/xyz", "/xyz"],
    ["/foo/", "/foo", "/xyz", "/xyz/"],
    ["/foo/bar", "/foo", "", "/bar"],
    ["/foo/", "/foo", "", "/"],
    ["/foo", "/foo", "", "/"],
    ["/foo/", "/foo", "/", "/"],
    ["/foo", "/foo", "/", "/"],
  ];
  for (const [path, matched, replacement, expected] of rows) {
    t.is(
      rewritePath(path, matched, replacePrefix(replacement)),
      expected,
      `${path} ${matched} ${replacement}`,
    );
  }
});

test("ReplacePrefixMatch on the brief's cases and on the root prefix", (t) => {
  t.is(rewritePath("/foo/baz", "/foo", replacePrefix("/bar")), "/bar/baz");
  t.is(rewritePath("/foo/baz", "/foo", replacePrefix("/")), "/baz");
  t.is(rewritePath("/foo", "/foo", replacePrefix("/bar")), "/bar");
  t.is(rewritePath("/x/y", "/", replacePrefix("/api")), "/api/x/y");
  t.is(rewritePath("/a/b/c", "/a/b", replacePrefix("/z")), "/z/c");
});

test("ReplaceFullPath replaces the whole path; no path modifier keeps it", (t) => {
  t.is(rewritePath("/any/thing", "/any", { path: { type: "ReplaceFullPath", value: "/fixed" } }), "/fixed");
  t.is(rewritePath("/any/thing", "/any", {}), "/any/thing");
});

test("ReplacePrefixMatch without a matched prefix leaves the path alone", (t) => {
  t.is(rewritePath("/a/b", undefined, replacePrefix("/x")), "/a/b");
});

const base = req("shop.example.com", "/old/page", { query: "a=1&b=2" });
const loc = (redirect: Omit<CompiledRedirect, "statusCode">, scheme: "http" | "https", port: number) =>
  redirectLocation(base, scheme, port, "/old", { statusCode: 302, ...redirect });

test("without scheme or port the listener's port is kept unless it is the scheme's default", (t) => {
  t.is(loc({}, "http", 80), "http://shop.example.com/old/page?a=1&b=2");
  t.is(loc({}, "http", 8080), "http://shop.example.com:8080/old/page?a=1&b=2");
  t.is(loc({}, "https", 443), "https://shop.example.com/old/page?a=1&b=2");
  t.is(loc({}, "https", 8443), "https://shop.example.com:8443/old/page?a=1&b=2");
  t.is(loc({}, "http", 443), "http://shop.example.com:443/old/page?a=1&b=2");
});

test("a scheme without port implies that scheme's well-known port, left out of Location", (t) => {
  t.is(loc({ scheme: "https" }, "http", 8080), "https://shop.example.com/old/page?a=1&b=2");
  t.is(loc({ scheme: "http" }, "https", 8443), "http://shop.example.com/old/page?a=1&b=2");
  t.is(loc({ scheme: "https" }, "https", 443), "https://shop.example.com/old/page?a=1&b=2");
});

test("an explicit port is written unless it is the default of the resulting scheme", (t) => {
  t.is(loc({ port: 8080 }, "http", 80), "http://shop.example.com:8080/old/page?a=1&b=2");
  t.is(loc({ port: 80 }, "http", 8080), "http://shop.example.com/old/page?a=1&b=2");
  t.is(loc({ scheme: "https", port: 443 }, "http", 80), "https://shop.example.com/old/page?a=1&b=2");
  t.is(loc({ scheme: "https", port: 80 }, "http", 80), "https://shop.example.com:80/old/page?a=1&b=2");
  t.is(loc({ scheme: "http", port: 8443 }, "https", 443), "http://shop.example.com:8443/old/page?a=1&b=2");
});

test("hostname and path replace the request's; the query string is kept", (t) => {
  t.is(loc({ hostname: "new.example.com" }, "http", 80), "http://new.example.com/old/page?a=1&b=2");
  t.is(
    loc({ path: { type: "ReplacePrefixMatch", value: "/new" } }, "http", 80),
    "http://shop.example.com/new/page?a=1&b=2",
  );
  t.is(
    loc({ path: { type: "ReplaceFullPath", value: "/" } }, "http", 80),
    "http://shop.example.com/?a=1&b=2",
  );
});

test("no query gives no question mark; an IPv6 host keeps its brackets", (t) => {
  const bare = req("[::1]", "/p");
  t.is(redirectLocation(bare, "http", 8080, undefined, { statusCode: 301 }), "http://[::1]:8080/p");
  t.is(
    redirectLocation(bare, "http", 80, undefined, { statusCode: 301, scheme: "https" }),
    "https://[::1]/p",
  );
});

test("a routed redirect builds its Location from the prefix that matched", (t) => {
  const r = portRouter(
    listener("l", undefined, [
      {
        path: prefix("/docs/"),
        action: {
          backends: [],
          filters: [
            {
              type: "RequestRedirect",
              requestRedirect: {
                scheme: "https",
                hostname: "docs.example.com",
                statusCode: 301,
                path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/" },
              },
            },
          ],
        },
      },
    ]),
  );
  const request = req("example.com", "/docs/guide/intro", { query: "v=2" });
  const match = r.route(request);
  const redirect = match?.action.redirect;
  if (match === undefined || redirect === undefined) return t.fail("redirect route did not match");
  t.is(redirect.statusCode, 301);
  t.is(
    redirectLocation(request, "http", 80, match.matchedPrefix, redirect),
    "https://docs.example.com/guide/intro?v=2",
  );
});
