// HTTPRoute rule.retry (GEP-1731) and rule timeouts into the Snapshot: what is kept, what is
// defaulted, and what is refused with a reason in the route's status.
import test from "ava";
import { DEFAULT_RULE_RETRY_ATTEMPTS } from "../../controller/translate/rules.js";
import { fromYaml, gateway, httpRoute, listener, routeCondition, run, service } from "../support/controller-yaml.js";

const GW = gateway("gw", "[{name: web, protocol: HTTP, port: 8080}]");
const API = service("api", "[{port: 80}]");

function ruleWith(fields: string) {
  const { snapshot, status } = run(
    `${GW}${API}${httpRoute("r", `parentRefs: [{name: gw}]\nrules:\n- ${fields}\n  backendRefs: [{name: api, port: 80}]`)}`,
  );
  const action = listener(snapshot, "default/gw/web").actions[0];
  return { action, accepted: routeCondition(status, "r", "Accepted") };
}

test("a rule's retry is carried to its action: codes (sorted, once each), attempts, backoff in ms", (t) => {
  const { action, accepted } = ruleWith("retry: {codes: [504, 500, 502, 500], attempts: 3, backoff: 1s100ms}");
  t.is(accepted?.status, "True");
  t.deepEqual(action?.retry, { codes: [500, 502, 504], attempts: 3, backoffMs: 1100 });
  t.not(action?.backends[0]?.cluster, null);
});

test("defaults: no attempts means 2 retries, no codes means connection errors only, no backoff stays unset", (t) => {
  t.is(DEFAULT_RULE_RETRY_ATTEMPTS, 2);
  const { action, accepted } = ruleWith("retry: {}");
  t.is(accepted?.status, "True");
  t.deepEqual(action?.retry, { codes: [], attempts: 2 });
  t.deepEqual(ruleWith("retry: {attempts: 0, codes: [503]}").action?.retry, { codes: [503], attempts: 0 });
});

test("a rule without retry has none: the cluster's retry policy decides for it", (t) => {
  const { action } = ruleWith("timeouts: {request: 2s}");
  t.is(action?.retry, undefined);
  t.false(Object.hasOwn(action ?? {}, "retry"));
});

test("a backoff that is not a duration, or too long for a timer, and too many attempts are refused with the reason; the rule answers 500", (t) => {
  const cases: [string, RegExp][] = [
    ["retry: {codes: [500], backoff: fast}", /rule 0: retry\.backoff "fast" is not a duration/],
    ["retry: {codes: [500], backoff: 1.5s}", /rule 0: retry\.backoff "1\.5s" is not a duration/],
    ["retry: {codes: [500], backoff: 720h}", /rule 0: retry\.backoff "720h" is longer than 2147483647 ms/],
    ["retry: {codes: [500], attempts: 101}", /rule 0: retry\.attempts 101 is more than 100/],
  ];
  for (const [fields, reason] of cases) {
    const { action, accepted } = ruleWith(fields);
    t.is(accepted?.status, "False", fields);
    t.is(accepted?.reason, "UnsupportedValue", fields);
    t.regex(accepted?.message ?? "", reason, fields);
    t.is(action?.backends[0]?.cluster, null, fields);
  }
  // The longest duration a timer holds is accepted.
  t.deepEqual(ruleWith("retry: {backoff: 596h31m23s647ms, attempts: 100}").action?.retry, {
    codes: [],
    attempts: 100,
    backoffMs: 2 ** 31 - 1,
  });
});

test("codes outside 400-599 and negative attempts are refused when the route is read", (t) => {
  for (const retry of ["{codes: [399]}", "{codes: [600]}", "{attempts: -1}", "{codes: [five]}"]) {
    const { errors } = fromYaml(
      `${GW}${API}${httpRoute("r", `parentRefs: [{name: gw}]\nrules:\n- retry: ${retry}\n  backendRefs: [{name: api, port: 80}]`)}`,
    );
    t.true(errors.length > 0, retry);
    t.regex(JSON.stringify(errors), /retry/, retry);
  }
});

test("timeouts: \"0s\" is kept as 0 (disabled), absent stays absent (the cluster's default)", (t) => {
  t.deepEqual(ruleWith("timeouts: {request: 0s, backendRequest: 0s}").action?.timeouts, { requestMs: 0, backendRequestMs: 0 });
  t.deepEqual(ruleWith("timeouts: {backendRequest: 2s}").action?.timeouts, { backendRequestMs: 2000 });
  t.deepEqual(ruleWith("retry: {codes: [500]}").action?.timeouts, {});
});
