// RateLimitPolicy -> rate limit rules on route actions, and its status.
import test from "ava";
import { gateway, httpRoute, listener, meshgatePolicy, run, service } from "../support/controller-yaml.js";

const GW = gateway("gw", "[{name: web, protocol: HTTP, port: 8080}, {name: admin, protocol: HTTP, port: 9090}]");
const API = service("api", "[{port: 80}]");

function policy(name: string, spec: string): string {
  return meshgatePolicy("RateLimitPolicy", name, spec);
}

function routeTo(name: string, parent: string): string {
  return httpRoute(
    name,
    `parentRefs: [{name: gw, sectionName: ${parent}}]\nrules: [{name: main, matches: [{path: {value: /${name}}}], backendRefs: [{name: api, port: 80}]}]`,
  );
}

function acceptedOf(status: ReturnType<typeof run>["status"], name: string): string {
  const c = status.policies.find((p) => p.kind === "RateLimitPolicy" && p.name === name)?.conditions[0];
  return `${c?.status}/${c?.reason}: ${c?.message}`;
}

test("RateLimitPolicy on a route: its rules, selectors flattened, land on that route's actions only", (t) => {
  const { snapshot, status } = run(`${GW}${API}${routeTo("a", "web")}${routeTo("b", "web")}
${policy(
  "per-user",
  `targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: a, sectionName: main}]
rules:
- name: by-user
  clientSelectors: [{headers: [{name: X-User, type: Distinct}], sourceCIDR: {value: 10.0.0.0/8}, method: post}]
  limit: {requests: 10, unit: Minute}
  type: Local
  cost: 2
- limit: {requests: 1000, unit: Hour}
  failClosed: true`,
)}`);
  const web = listener(snapshot, "default/gw/web");
  const a = web.actions.find((x) => x.route === "default/a");
  const b = web.actions.find((x) => x.route === "default/b");
  t.deepEqual(b?.rateLimits, []);
  t.deepEqual(a?.rateLimits, [
    {
      policy: "default/per-user",
      bucket: "default/per-user@default/a",
      id: "by-user",
      selectors: [
        { kind: "Header", name: "X-User", type: "Distinct" },
        { kind: "SourceCIDR", type: "Exact", value: "10.0.0.0/8" },
        { kind: "Method", value: "POST" },
      ],
      limit: { requests: 10, unit: "Minute" },
      type: "Local",
      cost: 2,
    },
    {
      policy: "default/per-user",
      bucket: "default/per-user@default/a",
      id: "1",
      selectors: [],
      limit: { requests: 1000, unit: "Hour" },
      type: "Global",
      failClosed: true,
    },
  ]);
  t.regex(acceptedOf(status, "per-user"), /^True\/Accepted: applies to HTTPRoute a \(section main\)/);
});

test("RateLimitPolicy on a Gateway listener reaches every route there; shared means one bucket", (t) => {
  const { snapshot, status } = run(`${GW}${API}${routeTo("a", "web")}${routeTo("b", "web")}${routeTo("c", "admin")}
${policy("edge", "targetRefs: [{kind: Gateway, name: gw, sectionName: web}]\nshared: true\nrules: [{limit: {requests: 5, unit: Second}}]")}
${policy("per-route", "targetRefs: [{kind: Gateway, name: gw, sectionName: admin}]\nrules: [{limit: {requests: 7, unit: Day}}]")}`);
  const web = listener(snapshot, "default/gw/web");
  t.deepEqual(
    web.actions.map((x) => [x.route, x.rateLimits.map((r) => `${r.bucket}:${r.limit.requests}/${r.limit.unit}:${r.type}`)]),
    [
      ["default/a", ["default/edge:5/Second:Global"]],
      ["default/b", ["default/edge:5/Second:Global"]],
    ],
  );
  const admin = listener(snapshot, "default/gw/admin");
  t.deepEqual(admin.actions[0]?.rateLimits.map((r) => r.bucket), ["default/per-route@default/c"]);
  t.regex(acceptedOf(status, "edge"), /^True\/Accepted/);
});

test("a bad RateLimitPolicy is refused with the reason and limits nothing", (t) => {
  const { snapshot, status } = run(`${GW}${API}${routeTo("a", "web")}
${policy("zero", "targetRefs: [{kind: HTTPRoute, name: a}]\nrules: [{limit: {requests: 0, unit: Minute}}]")}
${policy("unit", "targetRefs: [{kind: Gateway, name: gw}]\nrules: [{limit: {requests: 5, unit: Week}}]")}
${policy("regex", "targetRefs: [{kind: Gateway, name: gw}]\nrules: [{clientSelectors: [{headers: [{name: x, type: RegularExpression, value: '(['}]}], limit: {requests: 5, unit: Minute}}]")}
${policy("cidr", "targetRefs: [{kind: Gateway, name: gw}]\nrules: [{clientSelectors: [{sourceCIDR: {value: 10.0.0.0/99}}], limit: {requests: 5, unit: Minute}}]")}
${policy("typo", "targetRefs: [{kind: Gateway, name: gw}]\nrules: [{limits: {requests: 5, unit: Minute}}]")}
${policy("service", "targetRefs: [{group: '', kind: Service, name: api}]\nrules: [{limit: {requests: 5, unit: Minute}}]")}`);
  t.deepEqual(listener(snapshot, "default/gw/web").actions[0]?.rateLimits, []);
  for (const name of ["zero", "unit", "regex", "cidr", "typo", "service"]) {
    t.regex(acceptedOf(status, name), /^False\/Invalid: spec\./, name);
  }
  t.regex(acceptedOf(status, "zero"), /requests/);
  t.regex(acceptedOf(status, "unit"), /unit/);
  t.regex(acceptedOf(status, "regex"), /invalid regular expression/);
  t.regex(acceptedOf(status, "cidr"), /CIDR/);
  t.regex(acceptedOf(status, "typo"), /limits/);
  t.regex(acceptedOf(status, "service"), /a target must be a Gateway or HTTPRoute/);
});
