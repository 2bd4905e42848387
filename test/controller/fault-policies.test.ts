// BackendTrafficPolicy faultInjection (Envoy Gateway's field names) onto the route actions the
// policy reaches, never onto its clusters, and the values refused.
import test from "ava";
import { gateway, httpRoute, listener, meshgatePolicy, run, service } from "../support/controller-yaml.js";

const GW = gateway("gw", "[{name: web, protocol: HTTP, port: 8080}, {name: admin, protocol: HTTP, port: 9090}]");
const API = service("api", "[{port: 80}]");

function route(name: string, parent: string, ruleNames: string[] = [""]): string {
  const rules = ruleNames
    .map((n, i) => `- ${n === "" ? "" : `name: ${n}\n  `}matches: [{path: {value: /${name}/${i}}}]\n  backendRefs: [{name: api, port: 80}]`)
    .join("\n");
  return httpRoute(name, `parentRefs: [{name: gw, sectionName: ${parent}}]\nrules:\n${rules}`);
}

function faultPolicy(name: string, target: string, fault: string, extra = ""): string {
  return meshgatePolicy("BackendTrafficPolicy", name, `targetRefs: [${target}]\nfaultInjection: ${fault}${extra}`);
}

const onRoute = (name: string, section?: string) =>
  `{group: gateway.networking.k8s.io, kind: HTTPRoute, name: ${name}${section === undefined ? "" : `, sectionName: ${section}`}}`;

test("faultInjection maps onto the actions of the rules the policy reaches, with percentage 100 by default", (t) => {
  const { snapshot, status } = run(`${GW}${API}${route("r", "web", ["slow", "plain"])}${route("other", "web")}
${faultPolicy("chaos", onRoute("r", "slow"), "{delay: {fixedDelay: 2s, percentage: 50}, abort: {httpStatus: 503}}")}`);
  t.is(status.policies[0]?.conditions[0]?.status, "True");
  const web = listener(snapshot, "default/gw/web");
  const byRoute = (route: string, rule: string) => web.actions.find((a) => a.route === route && a.rule === rule);
  t.deepEqual(byRoute("default/r", "slow")?.fault, {
    policy: "default/chaos",
    delay: { delayMs: 2000, percentage: 50 },
    abort: { status: 503, percentage: 100 },
  });
  // The route's other rule and the other route are not targeted.
  t.is(byRoute("default/r", "plain")?.fault, undefined);
  t.is(byRoute("default/other", "0")?.fault, undefined);
  // The fault is not a cluster setting: the policy's cluster carries none of it.
  for (const c of snapshot.clusters) t.false("fault" in c, c.name);
});

test("a Gateway-wide fault reaches every rule of its routes; a more specific policy replaces it", (t) => {
  const { snapshot } = run(`${GW}${API}${route("a", "web")}${route("b", "admin")}
${faultPolicy("everywhere", "{group: gateway.networking.k8s.io, kind: Gateway, name: gw}", "{abort: {httpStatus: 500, percentage: 1.5}}")}
${faultPolicy("just-b", onRoute("b"), "{delay: {fixedDelay: 100ms}}")}`);
  t.deepEqual(listener(snapshot, "default/gw/web").actions[0]?.fault, {
    policy: "default/everywhere",
    abort: { status: 500, percentage: 1.5 },
  });
  t.deepEqual(listener(snapshot, "default/gw/admin").actions[0]?.fault, {
    policy: "default/just-b",
    delay: { delayMs: 100, percentage: 100 },
  });
});

test("faultInjection values refused: the policy is Accepted=False Invalid and no action gets a fault", (t) => {
  const cases: [string, RegExp][] = [
    ["{}", /give delay, abort or both/],
    ["{abort: {httpStatus: 199}}", /spec\.faultInjection\.abort\.httpStatus/],
    ["{abort: {httpStatus: 600}}", /spec\.faultInjection\.abort\.httpStatus/],
    ["{abort: {httpStatus: 503.5}}", /spec\.faultInjection\.abort\.httpStatus/],
    ["{abort: {percentage: 10}}", /httpStatus is required/],
    ["{abort: {grpcStatus: 14}}", /grpcStatus is not supported/],
    ["{abort: {httpStatus: 503, percentage: 101}}", /spec\.faultInjection\.abort\.percentage/],
    ["{delay: {fixedDelay: 1s, percentage: -1}}", /spec\.faultInjection\.delay\.percentage/],
    ["{delay: {fixedDelay: soon}}", /"soon" is not a duration/],
    ["{delay: {percentage: 10}}", /spec\.faultInjection\.delay\.fixedDelay/],
    ["{delay: {fixedDelay: 600h}}", /longer than 2147483647 ms/],
    ["{delay: {fixedDelay: 1s, jitter: 1s}}", /jitter/],
  ];
  for (const [fault, message] of cases) {
    const { snapshot, status } = run(`${GW}${API}${route("r", "web")}\n${faultPolicy("bad", onRoute("r"), fault)}`);
    const c = status.policies[0]?.conditions[0];
    t.is(c?.status, "False", fault);
    t.is(c?.reason, "Invalid", fault);
    t.regex(c?.message ?? "", message, fault);
    t.is(listener(snapshot, "default/gw/web").actions[0]?.fault, undefined, fault);
  }
});
