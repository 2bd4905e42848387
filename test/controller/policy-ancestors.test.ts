// A policy's outcome per target (GEP-713 ancestors): what a cluster shows in status.ancestors[],
// one entry per distinct targetRef, with what happened to the policy on that target.
import test from "ava";
import type { PolicyAncestorStatus, StatusReport } from "../../controller/status/report.js";
import { gateway, httpRoute, meshgatePolicy as policy, run, service } from "../support/controller-yaml.js";

const GW = gateway(
  "gw",
  "[{name: web, protocol: HTTP, port: 8080}, {name: admin, protocol: HTTP, port: 9090}, {name: alt, protocol: HTTP, port: 8080, hostname: alt.example}]",
);
const ROUTE = `${service("api", "[{port: 80}]")}${httpRoute(
  "r",
  "parentRefs: [{name: gw, sectionName: web}]\nrules: [{matches: [{path: {value: /r}}], backendRefs: [{name: api, port: 80}]}]",
)}`;

function ancestors(status: StatusReport, name: string): [string, string, string, string][] {
  const entries: PolicyAncestorStatus[] = status.policies.find((p) => p.name === name)?.ancestors ?? [];
  return entries.map((a) => {
    const ref = a.ancestorRef;
    const c = a.conditions.find((x) => x.type === "Accepted");
    assertGatewayGroup(ref.group);
    return [`${ref.kind}/${ref.namespace}/${ref.name}${ref.sectionName === undefined ? "" : `#${ref.sectionName}`}`, c?.status ?? "-", c?.reason ?? "-", c?.message ?? "-"];
  });
}

/** Every target kind meshgate's policies take is in the Gateway API group. */
function assertGatewayGroup(group: string): void {
  if (group !== "gateway.networking.k8s.io") throw new Error(`ancestorRef group ${group}`);
}

test("each target gets its own outcome: applied, not found, and a repeated target once", (t) => {
  const { status } = run(`${GW}${ROUTE}
${policy(
  "BackendTrafficPolicy",
  "spread",
  "targetRefs: [{kind: Gateway, name: gw}, {kind: Gateway, name: gw, sectionName: admin}, {kind: HTTPRoute, name: r}, {kind: HTTPRoute, name: gone}, {kind: Gateway, name: gw}]\nloadBalancer: {type: Random}",
)}`);
  t.deepEqual(ancestors(status, "spread"), [
    ["Gateway/default/gw", "True", "Accepted", "applies to Gateway gw"],
    ["Gateway/default/gw#admin", "True", "Accepted", "applies to Gateway gw (section admin)"],
    ["HTTPRoute/default/r", "True", "Accepted", "applies to HTTPRoute r"],
    ["HTTPRoute/default/gone", "False", "TargetNotFound", "HTTPRoute gone not found"],
  ]);
  // The policy-wide condition still sums them up, as `meshgate status` shows it.
  const whole = status.policies.find((p) => p.name === "spread")?.conditions[0];
  t.is(whole?.status, "True");
  t.regex(whole?.message ?? "", /HTTPRoute gone not found/);
  t.is(status.policies.find((p) => p.name === "spread")?.ancestors[0]?.conditions[0]?.observedGeneration, 1);
});

test("two policies on one target: the older keeps it, the newer is Conflicted there only", (t) => {
  const { status } = run(`${GW}${ROUTE}
${policy("BackendTrafficPolicy", "old", "targetRefs: [{kind: HTTPRoute, name: r}]\nloadBalancer: {type: Random}", "2020-01-01T00:00:00Z")}
${policy("BackendTrafficPolicy", "new", "targetRefs: [{kind: HTTPRoute, name: r}, {kind: Gateway, name: gw}]\nloadBalancer: {type: LeastRequest}", "2021-01-01T00:00:00Z")}`);
  t.deepEqual(ancestors(status, "old"), [["HTTPRoute/default/r", "True", "Accepted", "applies to HTTPRoute r"]]);
  t.deepEqual(ancestors(status, "new"), [
    ["HTTPRoute/default/r", "False", "Conflicted", "HTTPRoute r already has BackendTrafficPolicy default/old"],
    ["Gateway/default/gw", "True", "Accepted", "applies to Gateway gw"],
  ]);
});

test("a refused spec shows the refusal on every target it names", (t) => {
  const { status } = run(`${GW}
${policy("ClientTrafficPolicy", "bad", "targetRefs: [{kind: Gateway, name: gw}, {kind: Gateway, name: gw, sectionName: web}]\ntls: {minVersion: '1.1'}")}`);
  const rows = ancestors(status, "bad");
  t.deepEqual(rows.map(([ref, s, reason]) => [ref, s, reason]), [
    ["Gateway/default/gw", "False", "Invalid"],
    ["Gateway/default/gw#web", "False", "Invalid"],
  ]);
  t.regex(rows[0]?.[3] ?? "", /must be "1\.2" or "1\.3"/);
});

test("what is found after attachment reaches the targets the policy took: a port's override, a note", (t) => {
  const { status } = run(`${GW}
${policy("ClientTrafficPolicy", "wide", "targetRefs: [{kind: Gateway, name: gw}]\nclientLimits: {maxBodyBytes: 10}")}
${policy("ClientTrafficPolicy", "alt-only", "targetRefs: [{kind: Gateway, name: gw, sectionName: alt}, {kind: Gateway, name: gw, sectionName: nope}]\nclientLimits: {maxBodyBytes: 20}\ntls: {minVersion: '1.3'}", "2020-01-01T00:00:00Z")}
${policy("ClientTrafficPolicy", "admin-only", "targetRefs: [{kind: Gateway, name: gw, sectionName: admin}]\nclientLimits: {maxBodyBytes: 30}", "2020-01-01T00:00:00Z")}`);
  // Every port takes a listener's policy: the Gateway-wide one applies nowhere.
  const [wide] = ancestors(status, "wide");
  t.is(wide?.[0], "Gateway/default/gw");
  t.is(wide?.[2], "Conflicted");
  t.regex(wide?.[3] ?? "", /port (8080|9090) takes its client settings from default\/(alt-only|admin-only)/);
  const alt = ancestors(status, "alt-only");
  t.is(alt[0]?.[1], "True");
  t.regex(alt[0]?.[3] ?? "", /^applies to Gateway gw \(section alt\); its tls settings apply to HTTPS listeners/);
  // The note concerns what the policy took, not the target it could not find.
  t.deepEqual(alt[1], ["Gateway/default/gw#nope", "False", "TargetNotFound", "Gateway gw (section nope) not found"]);
});
