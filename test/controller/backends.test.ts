// backendRefs resolved as kube-proxy does, and ReferenceGrants for cross-namespace references.
import test from "ava";
import {
  endpointSlice,
  gateway,
  httpRoute,
  listener,
  routeCondition,
  run,
  service,
} from "../support/controller-yaml.js";

const GW = gateway(
  "gw",
  "[{name: web, protocol: HTTP, port: 8080, allowedRoutes: {namespaces: {from: All}}}]",
);

function routeTo(backendRefs: string, namespace = "default"): string {
  return httpRoute(
    "r",
    `parentRefs: [{name: gw, namespace: default}]\nrules: [{backendRefs: ${backendRefs}}]`,
    { namespace },
  );
}

test("named port: the slice port of that name, from every slice of the Service; not-ready and empty slices skipped", (t) => {
  const { snapshot } = run(`${GW}${routeTo("[{name: api, port: 80}]")}
${service("api", "[{name: http, port: 80, targetPort: 8000}, {name: admin, port: 81, targetPort: 9000}]")}
${endpointSlice("api-a", "api", "[{name: admin, port: 9100}, {name: http, port: 9001}]", "[{addresses: [10.0.0.1], conditions: {ready: true}}, {addresses: [10.0.0.2], conditions: {ready: false}}]")}
${endpointSlice("api-b", "api", "[{name: http, port: 9002}]", "[{addresses: [10.0.0.3]}, {addresses: [10.0.0.4], conditions: {ready: null}}]")}
${endpointSlice("api-c", "api", "null", "null")}
${endpointSlice("api-d", "api", "[]", "[]")}
${endpointSlice("other-a", "other", "[{name: http, port: 9999}]", "[{addresses: [10.9.9.9]}]")}
`);
  const cluster = snapshot.clusters.find((c) => c.name === "default/api:80");
  // 8000 (targetPort) is never dialled: the slices carry the pods' port.
  t.deepEqual(
    cluster?.endpoints.map((e) => `${e.address}:${e.port}`),
    ["10.0.0.1:9001", "10.0.0.3:9002", "10.0.0.4:9002"],
  );
  t.deepEqual(
    snapshot.clusters.map((c) => c.name),
    ["default/api:80"],
  );
});

test("unnamed Service port matches unnamed slice ports; one slice per pod; duplicates folded", (t) => {
  const pod = (i: number, address: string) =>
    endpointSlice(
      `plain-${i}`,
      "plain",
      "[{port: 7000}]",
      `[{addresses: [${address}], targetRef: {kind: Pod, name: plain-pod-${i}}}]`,
    );
  const { snapshot } = run(`${GW}${routeTo("[{name: plain, port: 80}]")}
${service("plain", "[{port: 80}]")}
${pod(1, "10.1.1.1")}${pod(2, "10.1.1.2")}${pod(3, "10.1.1.1")}
${endpointSlice("plain-named", "plain", "[{name: metrics, port: 9090}]", "[{addresses: [10.1.1.9]}]")}
`);
  t.deepEqual(snapshot.clusters[0]?.endpoints, [
    { address: "10.1.1.1", port: 7000, weight: 1, name: "plain-pod-1" },
    { address: "10.1.1.2", port: 7000, weight: 1, name: "plain-pod-2" },
  ]);
});

test("headless and selector-less Services resolve the same way; a Service with no ready endpoint is still a cluster", (t) => {
  const { snapshot, status } =
    run(`${GW}${routeTo("[{name: headless, port: 5432}, {name: manual, port: 80}, {name: idle, port: 80}]")}
${service("headless", "[{name: pg, port: 5432}]", { extra: "clusterIP: None, selector: {app: pg}" })}
${endpointSlice("headless-x", "headless", "[{name: pg, port: 5432}]", "[{addresses: [10.3.0.1]}]")}
${service("manual", "[{port: 80}]")}
${endpointSlice("manual-1", "manual", "[{port: 8080}]", "[{addresses: [192.0.2.10]}]")}
${service("idle", "[{name: http, port: 80}]")}
${endpointSlice("idle-1", "idle", "[{name: http, port: 80}]", "[{addresses: [10.4.0.1], conditions: {ready: false}}]")}
`);
  const endpoints = Object.fromEntries(
    snapshot.clusters.map((c) => [c.name, c.endpoints.map((e) => `${e.address}:${e.port}`)]),
  );
  t.deepEqual(endpoints, {
    "default/headless:5432": ["10.3.0.1:5432"],
    "default/idle:80": [],
    "default/manual:80": ["192.0.2.10:8080"],
  });
  t.is(routeCondition(status, "r", "ResolvedRefs")?.status, "True");
});

test("a missing Service, a missing port or a kind that is not a Service is unresolved: cluster null and a reason", (t) => {
  const cases: [string, string, RegExp][] = [
    ["[{name: ghost, port: 80}]", "BackendNotFound", /Service default\/ghost not found/],
    ["[{name: api, port: 8080}]", "BackendNotFound", /Service default\/api has no port 8080/],
    ["[{name: api, kind: Deployment, group: apps, port: 80}]", "InvalidKind", /apps\/Deployment/],
  ];
  for (const [refs, reason, message] of cases) {
    const { snapshot, status } = run(`${GW}${routeTo(refs)}${service("api", "[{port: 80}]")}`);
    t.deepEqual(listener(snapshot, "default/gw/web").actions[0]?.backends, [
      { cluster: null, weight: 1, filters: [] },
    ]);
    t.deepEqual(snapshot.clusters, []);
    const c = routeCondition(status, "r", "ResolvedRefs");
    t.is(c?.status, "False");
    t.is(c?.reason, reason);
    t.regex(c?.message ?? "", message);
    // An unresolved backend does not make the route unaccepted: its share answers 500.
    t.is(routeCondition(status, "r", "Accepted")?.status, "True");
  }
});

test("a weighted mix keeps the unresolved share as a null cluster", (t) => {
  const { snapshot } =
    run(`${GW}${routeTo("[{name: api, port: 80, weight: 3}, {name: ghost, port: 80, weight: 1}, {name: api, port: 80, weight: 0}]")}
${service("api", "[{port: 80}]")}`);
  t.deepEqual(
    listener(snapshot, "default/gw/web").actions[0]?.backends.map((b) => [b.cluster, b.weight]),
    [
      ["default/api:80", 3],
      [null, 1],
      ["default/api:80", 0],
    ],
  );
});

const CROSS = `${GW}${routeTo("[{name: db-api, namespace: data, port: 80}]", "apps")}
${service("db-api", "[{port: 80}]", { namespace: "data" })}
${endpointSlice("db-api-1", "db-api", "[{port: 5000}]", "[{addresses: [10.2.2.2]}]", "data")}`;

function grant(namespace: string, from: string, to: string): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: allow, namespace: ${namespace}}
spec:
  from: [${from}]
  to: [${to}]
`;
}

const FROM_APPS = "{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: apps}";

test("a cross-namespace backendRef without a ReferenceGrant is RefNotPermitted", (t) => {
  const { snapshot, status } = run(CROSS);
  t.is(listener(snapshot, "default/gw/web").actions[0]?.backends[0]?.cluster, null);
  t.is(routeCondition(status, "r", "ResolvedRefs")?.reason, "RefNotPermitted");
});

test("a ReferenceGrant in the target namespace permits it, for every Service or the one it names", (t) => {
  for (const to of [
    '{group: "", kind: Service}',
    '{group: "", kind: Service, name: db-api}',
    "{kind: Service}",
  ]) {
    const { snapshot, status } = run(`${CROSS}${grant("data", FROM_APPS, to)}`);
    t.is(listener(snapshot, "default/gw/web").actions[0]?.backends[0]?.cluster, "data/db-api:80", to);
    t.is(routeCondition(status, "r", "ResolvedRefs")?.status, "True");
  }
});

test("a ReferenceGrant that does not match refuses: wrong namespace, source, kind or name", (t) => {
  const grants = [
    grant("apps", FROM_APPS, '{group: "", kind: Service}'),
    grant(
      "data",
      "{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: other}",
      '{group: "", kind: Service}',
    ),
    grant(
      "data",
      "{group: gateway.networking.k8s.io, kind: GRPCRoute, namespace: apps}",
      '{group: "", kind: Service}',
    ),
    grant("data", FROM_APPS, '{group: "", kind: Secret}'),
    grant("data", FROM_APPS, '{group: "", kind: Service, name: other-api}'),
  ];
  for (const g of grants) {
    const { status } = run(`${CROSS}${g}`);
    t.is(routeCondition(status, "r", "ResolvedRefs")?.reason, "RefNotPermitted", g);
  }
});
