// Method, header and query parameter conditions: all must hold for an entry to match.
import test from "ava";
import { type EntrySpec, listener, portRouter, req, routed } from "../../support/routing-port.js";

const router = (...specs: EntrySpec[]) => portRouter(listener("l", undefined, specs));

test("method must be equal", (t) => {
  const r = router({ method: "POST" }, { method: "GET" });
  t.is(routed(r, req("h", "/", { method: "POST" })), "l#0");
  t.is(routed(r, req("h", "/", { method: "GET" })), "l#1");
  t.is(r.route(req("h", "/", { method: "PUT" })), undefined);
});

test("header names are case-insensitive; values must be equal", (t) => {
  const r = router({ headers: [{ type: "Exact", name: "X-Version", value: "2" }] });
  t.is(routed(r, req("h", "/", { headers: { "x-version": "2" } })), "l#0");
  t.is(r.route(req("h", "/", { headers: { "x-version": "20" } })), undefined);
  t.is(r.route(req("h", "/", { headers: { "x-version": "2 " } })), undefined);
  t.is(r.route(req("h", "/")), undefined);
});

test("an empty header value matches an empty condition, never a missing header", (t) => {
  const r = router({ headers: [{ type: "Exact", name: "x-flag", value: "" }] });
  t.is(routed(r, req("h", "/", { headers: { "x-flag": "" } })), "l#0");
  t.is(r.route(req("h", "/")), undefined);
});

test("header regular expressions must match the whole value", (t) => {
  const r = router({ headers: [{ type: "RegularExpression", name: "x-user", value: "adm[a-z]*" }] });
  t.is(routed(r, req("h", "/", { headers: { "x-user": "admin" } })), "l#0");
  t.is(r.route(req("h", "/", { headers: { "x-user": "sysadmin" } })), undefined);
  t.is(r.route(req("h", "/", { headers: { "x-user": "admin!" } })), undefined);
});

test("a repeated header is matched on its joined value", (t) => {
  const r = router({ headers: [{ type: "Exact", name: "accept", value: "a, b" }] });
  t.is(routed(r, req("h", "/", { headers: { accept: "a, b" } })), "l#0");
  t.is(r.route(req("h", "/", { headers: { accept: "a" } })), undefined);
});

test("only the first condition for a header name counts", (t) => {
  const r = router({
    headers: [
      { type: "Exact", name: "x-env", value: "prod" },
      { type: "Exact", name: "X-Env", value: "dev" },
    ],
  });
  t.is(routed(r, req("h", "/", { headers: { "x-env": "prod" } })), "l#0");
  t.is(r.route(req("h", "/", { headers: { "x-env": "dev" } })), undefined);
});

test("header names of Object's prototype are not taken for present headers", (t) => {
  const r = router({ headers: [{ type: "RegularExpression", name: "constructor", value: ".*" }] });
  t.is(r.route(req("h", "/", { headers: {} })), undefined);
  t.is(routed(r, req("h", "/", { headers: { constructor: "x" } })), "l#0");
});

test("every header, query and method condition must hold together", (t) => {
  const r = router(
    {
      method: "POST",
      headers: [
        { type: "Exact", name: "x-a", value: "1" },
        { type: "Exact", name: "x-b", value: "2" },
      ],
      queryParams: [{ type: "Exact", name: "q", value: "v" }],
    },
    { route: "fallback" },
  );
  const all = { method: "POST", headers: { "x-a": "1", "x-b": "2" }, query: "q=v" };
  t.is(routed(r, req("h", "/", all)), "l#0");
  t.is(routed(r, req("h", "/", { ...all, method: "GET" })), "fallback");
  t.is(routed(r, req("h", "/", { ...all, headers: { "x-a": "1" } })), "fallback");
  t.is(routed(r, req("h", "/", { ...all, query: "q=w" })), "fallback");
});

test("query parameters match on the first value of the name", (t) => {
  const r = router({ queryParams: [{ type: "Exact", name: "debug", value: "on" }] }, { route: "fallback" });
  t.is(routed(r, req("h", "/", { query: "debug=on" })), "l#0");
  t.is(routed(r, req("h", "/", { query: "x=1&debug=on&debug=off" })), "l#0");
  t.is(routed(r, req("h", "/", { query: "debug=off&debug=on" })), "fallback");
  t.is(routed(r, req("h", "/", { query: "Debug=on" })), "fallback");
  t.is(routed(r, req("h", "/")), "fallback");
});

test("query values are percent- and plus-decoded before comparison", (t) => {
  const r = router({ queryParams: [{ type: "Exact", name: "name", value: "a b/c" }] });
  t.is(routed(r, req("h", "/", { query: "name=a%20b%2Fc" })), "l#0");
  t.is(routed(r, req("h", "/", { query: "na%6De=a+b/c" })), "l#0");
});

test("a parameter without value or a malformed escape is compared as written", (t) => {
  const r = router(
    { queryParams: [{ type: "Exact", name: "flag", value: "" }] },
    { queryParams: [{ type: "Exact", name: "bad", value: "%E0%A4%A" }] },
  );
  t.is(routed(r, req("h", "/", { query: "flag" })), "l#0");
  t.is(routed(r, req("h", "/", { query: "&&flag=&" })), "l#0");
  t.is(routed(r, req("h", "/", { query: "bad=%E0%A4%A" })), "l#1");
});

test("query regular expressions must match the whole first value", (t) => {
  const r = router({ queryParams: [{ type: "RegularExpression", name: "page", value: "[0-9]+" }] });
  t.is(routed(r, req("h", "/", { query: "page=12" })), "l#0");
  t.is(r.route(req("h", "/", { query: "page=12a" })), undefined);
});

test("successive requests each match against their own query", (t) => {
  const r = router(
    { queryParams: [{ type: "Exact", name: "v", value: "1" }] },
    { queryParams: [{ type: "Exact", name: "v", value: "2" }] },
  );
  for (const v of ["1", "2", "1", "3", "2"]) {
    const want = v === "3" ? undefined : `l#${Number(v) - 1}`;
    t.is(routed(r, req("h", "/", { query: `v=${v}` })), want, v);
  }
});

test("a malformed query does not disturb entries without query conditions", (t) => {
  const r = router({ path: { type: "PathPrefix", value: "/" } });
  t.is(routed(r, req("h", "/", { query: "%%%=%&=&&" })), "l#0");
});
