// MirrorComparisonPolicy into the Snapshot: rules with mirrors get the comparison settings,
// defaults fill what the policy leaves out, bad specs are refused with the reason.
import test from "ava";
import { gateway, httpRoute, listener, run, service } from "../support/controller-yaml.js";

const GW = gateway("gw", "[{name: web, protocol: HTTP, port: 8080}]");
const SERVICES = `${service("api", "[{port: 80}]")}\n${service("shadow", "[{port: 8080}]")}`;
const ROUTE = httpRoute(
  "r",
  `parentRefs: [{name: gw}]
rules:
- name: mirrored
  backendRefs: [{name: api, port: 80}]
  filters: [{type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 8080}}}]
- name: plain
  matches: [{path: {type: PathPrefix, value: /plain}}]
  backendRefs: [{name: api, port: 80}]`,
);

function policy(spec: string, name = "compare"): string {
  return `---
apiVersion: meshgate.io/v1alpha1
kind: MirrorComparisonPolicy
metadata: {name: ${name}, namespace: default}
spec:
${spec}
`;
}

function accepted(status: ReturnType<typeof run>["status"], name = "compare") {
  return status.policies.find((p) => p.kind === "MirrorComparisonPolicy" && p.name === name)?.conditions[0];
}

test("a policy on a route compares its mirrored rule: headers lower-cased, body bound and log rate", (t) => {
  const { snapshot, status } = run(`${GW}${SERVICES}${ROUTE}${policy(`  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]
  headers: [Content-Type, ETag, content-type]
  body: {maxBytes: 65536}
  logPerMinute: 3`)}`);
  const actions = listener(snapshot, "default/gw/web").actions;
  const mirrored = actions.find((a) => a.rule === "mirrored");
  const plain = actions.find((a) => a.rule === "plain");
  t.deepEqual(mirrored?.mirrorCompare, {
    policy: "default/compare",
    headers: ["content-type", "etag"],
    maxBodyBytes: 65536,
    logPerMinute: 3,
  });
  // A rule without mirrors has nothing to compare.
  t.is(plain?.mirrorCompare, undefined);
  t.is(accepted(status)?.status, "True");
});

test("defaults: status only plus body hash up to 1 MiB, 10 log lines a minute; body.compare false hashes nothing", (t) => {
  const defaults = run(`${GW}${SERVICES}${ROUTE}${policy("  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r, sectionName: mirrored}]")}`);
  t.deepEqual(listener(defaults.snapshot, "default/gw/web").actions.find((a) => a.rule === "mirrored")?.mirrorCompare, {
    policy: "default/compare",
    headers: [],
    maxBodyBytes: 1024 * 1024,
    logPerMinute: 10,
  });
  const noBody = run(`${GW}${SERVICES}${ROUTE}${policy(`  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]
  body: {compare: false}`)}`);
  t.is(listener(noBody.snapshot, "default/gw/web").actions.find((a) => a.rule === "mirrored")?.mirrorCompare?.maxBodyBytes, 0);
});

test("a bad spec or a Gateway target is refused with the reason, and nothing is compared", (t) => {
  for (const [spec, reason] of [
    ["  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]\n  headers: ['bad header']", /must be an HTTP header name/],
    ["  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]", /must be a HTTPRoute/],
    ["  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]\n  logPerMinute: -1", /logPerMinute/],
  ] as const) {
    const { snapshot, status } = run(`${GW}${SERVICES}${ROUTE}${policy(spec)}`);
    t.is(listener(snapshot, "default/gw/web").actions.find((a) => a.rule === "mirrored")?.mirrorCompare, undefined);
    t.is(accepted(status)?.status, "False");
    t.regex(accepted(status)?.message ?? "", reason);
  }
});
