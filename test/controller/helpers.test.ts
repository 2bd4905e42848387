// The Gateway API's small rules as pure functions: host names, durations, label selectors.
import test from "ava";
import { parseDuration } from "../../controller/translate/duration.js";
import { compareHostSpecificity, intersectHostname } from "../../controller/translate/hostnames.js";
import { selectorMatches } from "../../controller/translate/selector.js";

test("hostname intersection follows the spec, wildcards on either side", (t) => {
  const cases: [string | undefined, string, string | undefined][] = [
    [undefined, "foo.example.com", "foo.example.com"],
    [undefined, "*.example.com", "*.example.com"],
    ["foo.example.com", "foo.example.com", "foo.example.com"],
    ["foo.example.com", "bar.example.com", undefined],
    ["*.example.com", "foo.example.com", "foo.example.com"],
    ["*.example.com", "a.b.example.com", "a.b.example.com"],
    ["*.example.com", "example.com", undefined],
    ["*.example.com", "fooexample.com", undefined],
    ["foo.example.com", "*.example.com", "foo.example.com"],
    ["example.com", "*.example.com", undefined],
    ["*.example.com", "*.example.com", "*.example.com"],
    ["*.example.com", "*.foo.example.com", "*.foo.example.com"],
    ["*.foo.example.com", "*.example.com", "*.foo.example.com"],
    ["*.example.com", "*.example.org", undefined],
  ];
  for (const [l, r, expected] of cases) t.is(intersectHostname(l, r), expected, `${l} ∩ ${r}`);
});

test("listener hostnames order: exact, wildcards longest first, then none", (t) => {
  const hosts = [
    undefined,
    "*.example.com",
    "b.example.com",
    "*.eu.example.com",
    "a.example.com",
    "long-name.example.com",
  ];
  t.deepEqual(hosts.sort(compareHostSpecificity), [
    "long-name.example.com",
    "a.example.com",
    "b.example.com",
    "*.eu.example.com",
    "*.example.com",
    undefined,
  ]);
});

test("Gateway API durations", (t) => {
  const valid: [string, number][] = [
    ["10s", 10_000],
    ["500ms", 500],
    ["1m", 60_000],
    ["1h30m", 5_400_000],
    ["1h1m1s1ms", 3_661_001],
    ["0s", 0],
    ["99999ms", 99_999],
  ];
  for (const [text, ms] of valid) t.is(parseDuration(text), ms, text);
  for (const text of ["", "10", "1.5s", "-1s", "10 s", "1d", "100000s", "1h1m1s1ms1h", "s", "10S"])
    t.is(parseDuration(text), undefined, text);
});

test("label selectors: matchLabels and every matchExpressions operator", (t) => {
  const labels = { team: "shop", env: "prod" };
  const sel = (s: Partial<Parameters<typeof selectorMatches>[0]>) =>
    selectorMatches({ matchLabels: {}, matchExpressions: [], ...s }, labels);
  t.true(sel({}));
  t.true(sel({ matchLabels: { team: "shop" } }));
  t.false(sel({ matchLabels: { team: "shop", env: "dev" } }));
  t.true(sel({ matchExpressions: [{ key: "env", operator: "In", values: ["prod", "staging"] }] }));
  t.false(sel({ matchExpressions: [{ key: "env", operator: "In", values: ["dev"] }] }));
  t.false(sel({ matchExpressions: [{ key: "tier", operator: "In", values: ["prod"] }] }));
  t.true(sel({ matchExpressions: [{ key: "env", operator: "NotIn", values: ["dev"] }] }));
  t.true(sel({ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["dev"] }] }));
  t.false(sel({ matchExpressions: [{ key: "env", operator: "NotIn", values: ["prod"] }] }));
  t.true(sel({ matchExpressions: [{ key: "team", operator: "Exists", values: [] }] }));
  t.false(sel({ matchExpressions: [{ key: "tier", operator: "Exists", values: [] }] }));
  t.true(sel({ matchExpressions: [{ key: "tier", operator: "DoesNotExist", values: [] }] }));
  t.false(sel({ matchExpressions: [{ key: "team", operator: "DoesNotExist", values: [] }] }));
});
