// What meshgate writes to each object's status from a translated configuration: only to what it
// controls (its GatewayClasses, their Gateways, route parents on those, its policies), in the
// shape the Gateway API CRDs validate, with addresses and the CRD bundle version from outside.
import test from "ava";
import { fitMessage, MAX_MESSAGE_LENGTH } from "../../controller/status/kube/conditions.js";
import { desiredStatuses } from "../../controller/status/kube/desired.js";
import { objectKey } from "../../controller/status/kube/objects.js";
import { gateway, httpRoute, meshgatePolicy, run, service } from "../support/controller-yaml.js";

const OURS = "meshgate.io/gateway-controller";
const NOW = new Date("2030-03-04T05:06:07.891Z");

const CONFIG = `---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: meshgate}
spec: {controllerName: ${OURS}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: theirs}
spec: {controllerName: example.net/other}
${gateway("edge", "[{name: web, protocol: HTTP, port: 8080}]")}
${gateway("foreign", "[{name: web, protocol: HTTP, port: 8081}]", { className: "theirs" })}
${service("api", "[{port: 80}]")}
${httpRoute("both", "parentRefs: [{name: edge}, {name: foreign}, {name: missing}]\nrules: [{backendRefs: [{name: api, port: 80}]}]")}
${httpRoute("elsewhere", "parentRefs: [{name: foreign}]\nrules: [{backendRefs: [{name: api, port: 80}]}]")}
${meshgatePolicy("BackendTrafficPolicy", "tuned", "targetRefs: [{kind: Gateway, name: edge}]\nloadBalancer: {type: Random}")}
`;

type Addresses = (ns: string, name: string) => { type: "IPAddress" | "Hostname"; value: string }[] | undefined;

function bodies(addresses?: Addresses, bundleVersion: string | undefined = "v1.6.3") {
  const { status } = run(CONFIG);
  const desired = desiredStatuses(status, { controllerName: OURS, bundleVersion, ...(addresses === undefined ? {} : { addresses }) });
  return new Map(desired.map((d) => [objectKey(d.ref), { desired: d, body: d.build(undefined, NOW) }]));
}

test("only what meshgate controls gets an entry: its class and Gateway, route parents on its Gateway, its policies", (t) => {
  const all = bodies();
  t.deepEqual([...all.keys()], [
    "GatewayClass/meshgate",
    "Gateway/default/edge",
    "HTTPRoute/default/both",
    "HTTPRoute/default/elsewhere",
    "BackendTrafficPolicy/default/tuned",
  ]);
  // The route's parents: the one on meshgate's Gateway; the other controller's and the missing
  // Gateway are left to whoever controls them.
  t.deepEqual(all.get("HTTPRoute/default/both")?.body, {
    parents: [
      {
        parentRef: { group: "gateway.networking.k8s.io", kind: "Gateway", namespace: "default", name: "edge" },
        controllerName: OURS,
        conditions: [
          { type: "Accepted", status: "True", observedGeneration: 1, lastTransitionTime: "2030-03-04T05:06:07Z", reason: "Accepted", message: "route accepted" },
          { type: "ResolvedRefs", status: "True", observedGeneration: 1, lastTransitionTime: "2030-03-04T05:06:07Z", reason: "ResolvedRefs", message: "all references resolved" },
        ],
      },
    ],
  });
  // A route on other controllers' Gateways only: nothing of meshgate's, so no status to write.
  t.deepEqual(all.get("HTTPRoute/default/elsewhere")?.body, {});
  t.is(all.get("HTTPRoute/default/both")?.desired.observedGeneration, 1);
  t.is(all.get("HTTPRoute/default/elsewhere")?.desired.observedGeneration, undefined, "nothing of meshgate's to be stale");
});

test("a Gateway's status: conditions, listeners with kinds and attached routes, addresses from its Service", (t) => {
  const body = bodies((ns, name) => (ns === "default" && name === "edge" ? [{ type: "IPAddress", value: "192.0.2.7" }, { type: "Hostname", value: "lb.example.net" }, { type: "IPAddress", value: "192.0.2.7" }] : undefined)).get(
    "Gateway/default/edge",
  )?.body;
  t.deepEqual(body?.["addresses"], [
    { type: "IPAddress", value: "192.0.2.7" },
    { type: "Hostname", value: "lb.example.net" },
  ]);
  const conditions = body?.["conditions"] as { type: string; status: string }[];
  t.deepEqual(conditions.map((c) => [c.type, c.status]), [["Accepted", "True"], ["Programmed", "True"]]);
  const [web] = body?.["listeners"] as { name: string; supportedKinds: unknown; attachedRoutes: number; conditions: { type: string }[] }[];
  t.is(web?.name, "web");
  t.is(web?.attachedRoutes, 1);
  t.deepEqual(web?.supportedKinds, [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute" }]);
  t.deepEqual(web?.conditions.map((c) => c.type), ["Accepted", "Conflicted", "ResolvedRefs", "Programmed"]);
});

test("addresses: unknown keeps what is written (a cache miss never wipes them); an empty list removes them", (t) => {
  const { status } = run(CONFIG);
  const written = { addresses: [{ type: "IPAddress", value: "192.0.2.7" }], conditions: [] };
  const edge = (addresses: (() => []) | undefined) =>
    desiredStatuses(status, { controllerName: OURS, bundleVersion: "v1.6.3", ...(addresses === undefined ? {} : { addresses }) })
      .find((d) => d.ref.kind === "Gateway")
      ?.build(written, NOW);
  t.deepEqual(edge(undefined)?.["addresses"], written.addresses);
  t.false("addresses" in (edge(() => []) ?? {}));
});

test("GatewayClass: Accepted, and SupportedVersion naming the installed bundle and what meshgate supports", (t) => {
  const condition = (bundle: string | undefined) =>
    (bodies(undefined, bundle ?? "").get("GatewayClass/meshgate")?.body["conditions"] as { type: string; status: string; reason: string; message: string }[]).map((c) => [
      c.type,
      c.status,
      c.reason,
      c.message,
    ]);
  t.deepEqual(condition("v1.6.3"), [
    ["Accepted", "True", "Accepted", "meshgate serves this class"],
    ["SupportedVersion", "True", "SupportedVersion", "Gateway API CRDs v1.6.3"],
  ]);
  t.deepEqual(condition("v1.7.0")[1], [
    "SupportedVersion",
    "False",
    "UnsupportedVersion",
    "Gateway API CRDs v1.7.0; meshgate supports v1.5.x and v1.6.x (served on a best-effort basis)",
  ]);
  // Best effort: the class stays Accepted.
  t.deepEqual(condition("v1.7.0")[0]?.slice(0, 2), ["Accepted", "True"]);
  t.regex(condition(undefined)[1]?.[3] ?? "", /carry no gateway\.networking\.k8s\.io\/bundle-version annotation/);
});

test("a policy's ancestors in the GEP-713 shape", (t) => {
  t.deepEqual(bodies().get("BackendTrafficPolicy/default/tuned")?.body, {
    ancestors: [
      {
        ancestorRef: { group: "gateway.networking.k8s.io", kind: "Gateway", namespace: "default", name: "edge" },
        controllerName: OURS,
        conditions: [{ type: "Accepted", status: "True", observedGeneration: 1, lastTransitionTime: "2030-03-04T05:06:07Z", reason: "Accepted", message: "applies to Gateway edge" }],
      },
    ],
  });
});

test("a message longer than the CRDs allow is cut to fit, never mid-character", (t) => {
  t.is(fitMessage("short"), "short");
  const long = fitMessage("x".repeat(MAX_MESSAGE_LENGTH - 2) + "😀".repeat(10));
  t.true(long.length <= MAX_MESSAGE_LENGTH);
  t.true(long.endsWith("…"));
  t.false(/[\ud800-\udbff]…$/.test(long), "no half of a surrogate pair before the ellipsis");
  t.is(fitMessage("y".repeat(MAX_MESSAGE_LENGTH)).length, MAX_MESSAGE_LENGTH);
});
