// Rate-limit rule matching and bucket keys as pure functions: no sockets.
import test from "ava";
import { type RequestFacts, type RuleSpec, compileRule, matchRule } from "../../../gateway/ratelimit/rules.js";

function req(extra: Partial<RequestFacts> = {}): RequestFacts {
  return { sourceIp: "10.1.2.3", method: "GET", path: "/api/items", headers: {}, query: "", ...extra };
}

function rule(selectors: RuleSpec["selectors"], extra: Partial<RuleSpec> = {}) {
  return compileRule("default/policy", {
    id: "r1",
    selectors,
    limit: { requests: 10, unit: "Minute" },
    type: "Global",
    ...extra,
  });
}

test("defaults: cost 1, failClosed false, window from unit", (t) => {
  const compiled = rule([]);
  t.is(compiled.cost, 1);
  t.false(compiled.failClosed);
  t.is(compiled.windowSeconds, 60);
  t.is(compileRule("p", { id: "d", selectors: [], limit: { requests: 1, unit: "Day" }, type: "Local" }).windowSeconds, 86400);
});

test("a rule without selectors matches every request with one shared key", (t) => {
  const compiled = rule([]);
  t.is(matchRule(compiled, req()), "default%2Fpolicy/r1");
  t.is(matchRule(compiled, req({ sourceIp: "192.0.2.1", path: "/other" })), "default%2Fpolicy/r1");
});

test("all selectors must match", (t) => {
  const compiled = rule([
    { kind: "Method", value: "post" },
    { kind: "PathPrefix", value: "/api/" },
    { kind: "Header", name: "X-Tenant", type: "Exact", value: "acme" },
  ]);
  const matching = req({ method: "POST", headers: { "x-tenant": "acme" } });
  t.is(typeof matchRule(compiled, matching), "string");
  t.is(matchRule(compiled, { ...matching, method: "GET" }), undefined);
  t.is(matchRule(compiled, { ...matching, headers: { "x-tenant": "other" } }), undefined);
  t.is(matchRule(compiled, { ...matching, headers: {} }), undefined);
  t.is(matchRule(compiled, { ...matching, path: "/apix" }), undefined);
});

test("path prefix follows path elements and ignores the query", (t) => {
  const compiled = rule([{ kind: "PathPrefix", value: "/api" }]);
  t.truthy(matchRule(compiled, req({ path: "/api" })));
  t.truthy(matchRule(compiled, req({ path: "/api/x" })));
  t.truthy(matchRule(compiled, req({ path: "/api?x=1" })));
  t.is(matchRule(compiled, req({ path: "/apis" })), undefined);
  t.truthy(matchRule(rule([{ kind: "PathPrefix", value: "/" }]), req({ path: "/anything" })));
});

test("header RegularExpression is a full, anchored match", (t) => {
  const compiled = rule([{ kind: "Header", name: "user-agent", type: "RegularExpression", value: "curl/[0-9.]+" }]);
  t.truthy(matchRule(compiled, req({ headers: { "user-agent": "curl/8.5.0" } })));
  t.is(matchRule(compiled, req({ headers: { "user-agent": "not curl/8.5.0" } })), undefined);
  t.is(matchRule(compiled, req()), undefined);
  t.throws(() => rule([{ kind: "Header", name: "a", type: "RegularExpression", value: "(" }]), {
    message: /invalid regular expression/,
  });
});

test("header Distinct gives each value its own bucket and requires the header", (t) => {
  const compiled = rule([{ kind: "Header", name: "x-user", type: "Distinct" }]);
  const alice = matchRule(compiled, req({ headers: { "x-user": "alice" } }));
  const bob = matchRule(compiled, req({ headers: { "x-user": "bob" } }));
  t.is(alice, "default%2Fpolicy/r1|0=alice");
  t.not(alice, bob);
  t.is(matchRule(compiled, req({ headers: { "x-user": "alice" }, path: "/elsewhere" })), alice);
  t.is(matchRule(compiled, req()), undefined);
});

test("distinct values with separators cannot collide, long values are hashed", (t) => {
  const compiled = rule([
    { kind: "Header", name: "a", type: "Distinct" },
    { kind: "Header", name: "b", type: "Distinct" },
  ]);
  const one = matchRule(compiled, req({ headers: { a: "x|1=y", b: "z" } }));
  const two = matchRule(compiled, req({ headers: { a: "x", b: "y|1=z" } }));
  t.not(one, two);
  const long = "v".repeat(500);
  const key = matchRule(compiled, req({ headers: { a: long, b: "z" } }));
  t.truthy(key);
  t.true((key as string).length < 120);
  t.is(matchRule(compiled, req({ headers: { a: long, b: "z" } })), key);
  t.not(matchRule(compiled, req({ headers: { a: `${long}w`, b: "z" } })), key);
});

test("query parameter Exact and Distinct", (t) => {
  const exact = rule([{ kind: "QueryParam", name: "plan", type: "Exact", value: "free" }]);
  t.truthy(matchRule(exact, req({ query: "plan=free&x=1" })));
  t.truthy(matchRule(exact, req({ query: "?plan=free" })));
  t.is(matchRule(exact, req({ query: "plan=pro" })), undefined);
  t.is(matchRule(exact, req()), undefined);
  const distinct = rule([{ kind: "QueryParam", name: "key", type: "Distinct" }]);
  t.not(matchRule(distinct, req({ query: "key=a" })), matchRule(distinct, req({ query: "key=b" })));
  t.is(matchRule(distinct, req({ query: "key=a&z=1" })), matchRule(distinct, req({ query: "z=2&key=a" })));
  t.is(matchRule(distinct, req({ query: "other=a" })), undefined);
});

test("IPv4 CIDR Exact: the whole range shares one bucket", (t) => {
  const compiled = rule([{ kind: "SourceCIDR", type: "Exact", value: "10.0.0.0/8" }]);
  const a = matchRule(compiled, req({ sourceIp: "10.1.2.3" }));
  t.truthy(a);
  t.is(matchRule(compiled, req({ sourceIp: "10.255.0.1" })), a);
  t.is(matchRule(compiled, req({ sourceIp: "::ffff:10.9.9.9" })), a);
  t.is(matchRule(compiled, req({ sourceIp: "11.0.0.1" })), undefined);
  t.is(matchRule(compiled, req({ sourceIp: "2001:db8::1" })), undefined);
  t.is(matchRule(compiled, req({ sourceIp: "garbage" })), undefined);
});

test("IPv4 CIDR Distinct: each address its own bucket", (t) => {
  const compiled = rule([{ kind: "SourceCIDR", type: "Distinct", value: "192.168.1.0/24" }]);
  const a = matchRule(compiled, req({ sourceIp: "192.168.1.10" }));
  const b = matchRule(compiled, req({ sourceIp: "192.168.1.11" }));
  t.is(a, "default%2Fpolicy/r1|0=192.168.1.10");
  t.not(a, b);
  t.is(matchRule(compiled, req({ sourceIp: "::ffff:192.168.1.10" })), a);
  t.is(matchRule(compiled, req({ sourceIp: "192.168.2.10" })), undefined);
});

test("IPv6 CIDR Exact and Distinct", (t) => {
  const exact = rule([{ kind: "SourceCIDR", type: "Exact", value: "2001:db8::/32" }]);
  t.truthy(matchRule(exact, req({ sourceIp: "2001:db8:1::5" })));
  t.is(matchRule(exact, req({ sourceIp: "2001:db9::1" })), undefined);
  t.is(matchRule(exact, req({ sourceIp: "10.0.0.1" })), undefined);
  const distinct = rule([{ kind: "SourceCIDR", type: "Distinct", value: "2001:db8::/32" }]);
  const a = matchRule(distinct, req({ sourceIp: "2001:db8::1" }));
  t.not(a, matchRule(distinct, req({ sourceIp: "2001:db8::2" })));
  t.is(matchRule(distinct, req({ sourceIp: "2001:DB8::1" })), a);
  const host = rule([{ kind: "SourceCIDR", type: "Exact", value: "::1/128" }]);
  t.truthy(matchRule(host, req({ sourceIp: "::1" })));
  t.is(matchRule(host, req({ sourceIp: "::2" })), undefined);
});

test("invalid specs are refused with a reason", (t) => {
  t.throws(() => rule([{ kind: "SourceCIDR", type: "Exact", value: "10.0.0.0/33" }]), { message: /invalid CIDR/ });
  t.throws(() => rule([{ kind: "SourceCIDR", type: "Exact", value: "nope/8" }]), { message: /invalid CIDR/ });
  t.throws(() => rule([], { limit: { requests: 0, unit: "Second" } }), { message: /positive integer/ });
  t.throws(() => rule([], { cost: 0 }), { message: /cost/ });
  t.throws(() => rule([{ kind: "PathPrefix", value: "api" }]), { message: /path prefix/ });
});
