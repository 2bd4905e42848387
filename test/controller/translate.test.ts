// Translation of Gateway API YAML into the Snapshot and status, without sockets.
import test from "ava";
import { parseFile } from "../../controller/provider/file.js";
import type { LoadError, Resource } from "../../controller/resources.js";
import { formatStatusTable } from "../../controller/status/report.js";
import { translate } from "../../controller/translate/index.js";
import { type Snapshot, validateSnapshot } from "../../gateway/snapshot.js";

function fromYaml(text: string): { resources: Resource[]; errors: LoadError[] } {
  const resources: Resource[] = [];
  const errors: LoadError[] = [];
  parseFile("test.yaml", text, resources, errors);
  return { resources, errors };
}

function run(text: string) {
  const { resources, errors } = fromYaml(text);
  const t = translate(resources, { version: 1, loadErrors: errors });
  const v = validateSnapshot(t.snapshot);
  if (!v.ok) throw new Error(v.errors.join("; "));
  return { snapshot: v.snapshot, status: t.status };
}

const GATEWAY = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: meshgate
  listeners:
  - {name: web, protocol: HTTP, port: 8080, allowedRoutes: {namespaces: {from: All}}}
  - {name: shop, protocol: HTTP, port: 8080, hostname: "*.shop.example", allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: shop}}}}}
  - {name: same, protocol: HTTP, port: 9090}
  - {name: tls, protocol: HTTPS, port: 8443}
`;

function service(ns: string, name: string, ports: string, slices: string): string {
  return `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec: {ports: ${ports}}
${slices}`;
}

function slice(ns: string, svc: string, id: string, port: string, endpoints: string): string {
  return `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${svc}-${id}, namespace: ${ns}, labels: {kubernetes.io/service-name: ${svc}}}
addressType: IPv4
ports: ${port}
endpoints: ${endpoints}
`;
}

function listener(s: Snapshot, name: string) {
  for (const p of s.ports) for (const l of p.listeners) if (l.name === name) return l;
  throw new Error(`no listener ${name}`);
}

test("resolves backends like kube-proxy: named port, several slices, not-ready excluded, empty slices", (t) => {
  const { snapshot } = run(`${GATEWAY}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: web}]
  rules: [{backendRefs: [{name: api, port: 80}]}]
${service("infra", "api", "[{name: http, port: 80, targetPort: 8000}, {name: admin, port: 81}]", "")}
${slice("infra", "api", "a", "[{name: http, port: 9001}, {name: admin, port: 9100}]", "[{addresses: [10.0.0.1], conditions: {ready: true}}, {addresses: [10.0.0.2], conditions: {ready: false}}]")}
${slice("infra", "api", "b", "[{name: http, port: 9002}]", "[{addresses: [10.0.0.3]}]")}
${slice("infra", "api", "c", "null", "null")}
${slice("infra", "other", "a", "[{name: http, port: 9999}]", "[{addresses: [10.9.9.9]}]")}
`);
  const cluster = snapshot.clusters.find((c) => c.name === "infra/api:80");
  t.deepEqual(
    cluster?.endpoints.map((e) => `${e.address}:${e.port}`),
    ["10.0.0.1:9001", "10.0.0.3:9002"],
  );
});

test("an unnamed Service port matches unnamed slice ports; a missing Service or port leaves the backend unresolved", (t) => {
  const { snapshot, status } = run(`${GATEWAY}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: web}]
  rules:
  - backendRefs: [{name: plain, port: 80, weight: 3}, {name: ghost, port: 80, weight: 1}]
  - matches: [{path: {type: Exact, value: /p}}]
    backendRefs: [{name: plain, port: 81}]
${service("infra", "plain", "[{port: 80}]", "")}
${slice("infra", "plain", "a", "[{port: 7000}]", "[{addresses: [10.1.1.1]}]")}
`);
  t.deepEqual(
    snapshot.clusters.find((c) => c.name === "infra/plain:80")?.endpoints.map((e) => e.port),
    [7000],
  );
  const web = listener(snapshot, "infra/gw/web");
  t.deepEqual(
    web.actions[0]?.backends.map((b) => [b.cluster, b.weight]),
    [
      ["infra/plain:80", 3],
      [null, 1],
    ],
  );
  const parent = status.routes[0]?.parents[0];
  t.is(parent?.conditions.find((c) => c.type === "ResolvedRefs")?.reason, "BackendNotFound");
});

test("cross-namespace backendRefs need a ReferenceGrant in the target namespace", (t) => {
  const base = `${GATEWAY}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: web}]
  rules: [{backendRefs: [{name: db-api, namespace: data, port: 80}]}]
${service("data", "db-api", "[{port: 80}]", slice("data", "db-api", "a", "[{port: 5000}]", "[{addresses: [10.2.2.2]}]"))}
`;
  const refused = run(base);
  t.is(listener(refused.snapshot, "infra/gw/web").actions[0]?.backends[0]?.cluster, null);
  t.is(
    refused.status.routes[0]?.parents[0]?.conditions.find((c) => c.type === "ResolvedRefs")?.reason,
    "RefNotPermitted",
  );
  const granted = run(`${base}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: allow-apps, namespace: data}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: apps}]
  to: [{group: "", kind: Service}]
`);
  t.is(listener(granted.snapshot, "infra/gw/web").actions[0]?.backends[0]?.cluster, "data/db-api:80");
});

test("attachment honours sectionName, port, allowedRoutes Same and Selector, and hostname intersection", (t) => {
  const { snapshot, status } = run(`${GATEWAY}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cart, namespace: shop}
spec:
  parentRefs: [{name: gw, namespace: infra, port: 8080}]
  hostnames: ["cart.shop.example", "*.shop.example", "other.example"]
  rules: [{backendRefs: []}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: blocked, namespace: shop}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: same}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: nohost, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: shop}]
`);
  const shop = listener(snapshot, "infra/gw/shop");
  t.deepEqual(shop.entries[0]?.hostnames, ["cart.shop.example", "*.shop.example"]);
  const web = listener(snapshot, "infra/gw/web");
  t.deepEqual(web.entries[0]?.hostnames, ["cart.shop.example", "*.shop.example", "other.example"]);
  const reason = (name: string) =>
    status.routes.find((r) => r.name === name)?.parents[0]?.conditions.find((c) => c.type === "Accepted")
      ?.reason;
  t.is(reason("cart"), "Accepted");
  t.is(reason("blocked"), "NotAllowedByListeners");
  t.is(reason("nohost"), "NotAllowedByListeners");
  const attached = status.gateways[0]?.listeners.map((l) => [l.name, l.attachedRoutes]);
  t.deepEqual(attached, [
    ["web", 1],
    ["shop", 1],
    ["same", 0],
    ["tls", 0],
  ]);
  t.is(status.gateways[0]?.listeners[3]?.conditions[0]?.reason, "UnsupportedProtocol");
});

test("a route whose hostnames miss every listener is not accepted", (t) => {
  const { status } = run(`${GATEWAY}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: wrong, namespace: shop}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: shop}]
  hostnames: ["www.elsewhere.example"]
`);
  t.is(status.routes[0]?.parents[0]?.conditions[0]?.reason, "NoMatchingListenerHostname");
});

test("entries follow the spec's precedence across routes: exact, longest prefix, method, headers, query, age, name", (t) => {
  const route = (name: string, created: string, match: string) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: infra, creationTimestamp: "${created}"}
spec:
  parentRefs: [{name: gw, sectionName: same}]
  rules: [{matches: [${match}]}]
`;
  const { snapshot } = run(`${GATEWAY}
${route("z-old", "2020-01-01T00:00:00Z", "{path: {type: PathPrefix, value: /a}}")}
${route("b-new", "2024-01-01T00:00:00Z", "{path: {type: PathPrefix, value: /a}}")}
${route("a-new", "2024-01-01T00:00:00Z", "{path: {type: PathPrefix, value: /a}}")}
${route("longer", "2024-01-01T00:00:00Z", "{path: {type: PathPrefix, value: /a/b}}")}
${route("exact", "2024-01-01T00:00:00Z", "{path: {type: Exact, value: /a}}")}
${route("method", "2024-01-01T00:00:00Z", "{path: {type: PathPrefix, value: /a}, method: POST}")}
${route("headers", "2024-01-01T00:00:00Z", "{path: {type: PathPrefix, value: /a}, headers: [{name: X-A, value: '1'}, {name: x-b, value: '2'}]}")}
${route("query", "2024-01-01T00:00:00Z", "{path: {type: PathPrefix, value: /a}, queryParams: [{name: q, value: '1'}]}")}
${route("regex", "2019-01-01T00:00:00Z", "{path: {type: RegularExpression, value: '/a.*'}}")}
`);
  const same = listener(snapshot, "infra/gw/same");
  t.deepEqual(
    same.entries.map((e) => same.actions[e.action]?.route),
    [
      "infra/exact",
      "infra/longer",
      "infra/method",
      "infra/headers",
      "infra/query",
      "infra/z-old",
      "infra/a-new",
      "infra/b-new",
      "infra/regex",
    ],
  );
  t.deepEqual(
    same.entries[3]?.match.headers.map((h) => h.name),
    ["x-a", "x-b"],
  );
});

test("filters, redirects, rewrites, weights and timeouts map into the action", (t) => {
  const { snapshot, status } = run(`${GATEWAY}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: same}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, hostname: new.example, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}, statusCode: 301}
  - name: api
    matches: [{path: {type: PathPrefix, value: /api}}]
    timeouts: {request: 1m30s, backendRequest: 500ms}
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: X-Env, value: prod}], remove: [x-debug]}
    - type: URLRewrite
      urlRewrite: {hostname: internal.example, path: {type: ReplaceFullPath, replaceFullPath: /v2}}
    backendRefs:
    - name: api
      port: 80
      weight: 0
      filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: x-served-by, value: api}]}}]
  - matches: [{path: {type: Exact, value: /bad}}]
    timeouts: {request: soon}
    backendRefs: [{name: api, port: 80}]
${service("infra", "api", "[{port: 80}]", "")}
`);
  const same = listener(snapshot, "infra/gw/same");
  const redirect = same.actions[0]?.filters[0];
  t.deepEqual(redirect, {
    type: "RequestRedirect",
    requestRedirect: {
      scheme: "https",
      hostname: "new.example",
      path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/new" },
      statusCode: 301,
    },
  });
  const api = same.actions[1];
  t.is(api?.rule, "api");
  t.deepEqual(api?.timeouts, { requestMs: 90_000, backendRequestMs: 500 });
  t.deepEqual(
    api?.filters.map((f) => f.type),
    ["RequestHeaderModifier", "URLRewrite"],
  );
  t.is(api?.backends[0]?.weight, 0);
  t.is(api?.backends[0]?.filters[0]?.type, "ResponseHeaderModifier");
  t.deepEqual(same.actions[2]?.backends, [{ cluster: null, weight: 1, filters: [] }]);
  t.is(status.routes[0]?.parents[0]?.conditions[0]?.reason, "UnsupportedValue");
});

test("two listeners with the same port and hostname: the later one is Conflicted and not served", (t) => {
  const { snapshot, status } = run(`
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: a, namespace: default}
spec:
  listeners: [{name: one, protocol: HTTP, port: 8000, hostname: x.example}, {name: two, protocol: HTTP, port: 8000, hostname: x.example}, {name: three, protocol: HTTP, port: 8000}]
`);
  t.deepEqual(
    snapshot.ports[0]?.listeners.map((l) => l.name),
    ["default/a/one", "default/a/three"],
  );
  const two = status.gateways[0]?.listeners[1];
  t.is(two?.conditions.find((c) => c.type === "Conflicted")?.status, "True");
  t.regex(formatStatusTable(status), /default\/a\/two\s+8000\s+HTTP\s+x\.example\s+0\s+False/);
});

test("BackendTrafficPolicy shapes the route's clusters and ClientTrafficPolicy the port's limits", (t) => {
  const { snapshot, status } = run(`${GATEWAY}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: same}]
  rules: [{backendRefs: [{name: api, port: 80}]}]
${service("infra", "api", "[{port: 80}]", "")}
---
apiVersion: meshgate.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: sticky, namespace: infra}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]
  loadBalancer: {type: ConsistentHash, consistentHash: {type: Cookie, cookie: {name: session}}}
  retry: {numRetries: 4, retryOn: {triggers: [connect-failure], httpStatusCodes: [502, 503]}, perRetry: {timeout: 2s}}
  healthCheck: {passive: {consecutiveErrors: 3, baseEjectionTime: 10s, maxEjectionPercent: 30}}
  circuitBreaker: {maxParallelRequests: 50, maxPendingRequests: 5}
  timeout: {tcp: {connectTimeout: 1s}}
---
apiVersion: meshgate.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: limits, namespace: infra}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  clientLimits: {maxBodyBytes: 1048576, maxUrlBytes: 2048}
---
apiVersion: meshgate.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: broken, namespace: infra}
spec:
  targetRefs: [{kind: Gateway, name: gw}]
  loadBalancer: {type: Fastest}
`);
  const c = snapshot.clusters[0];
  t.is(c?.name, "infra/api:80@infra/sticky");
  t.deepEqual(c?.loadBalancer, { type: "ConsistentHash", hashOn: { type: "Cookie", name: "session" } });
  t.is(c?.retry.attempts, 4);
  t.deepEqual(c?.retry.statusCodes, [502, 503]);
  t.is(c?.retry.perTryTimeoutMs, 2000);
  t.is(c?.outlier.consecutiveFailures, 3);
  t.is(c?.outlier.baseEjectionMs, 10_000);
  t.is(c?.circuitBreaker.maxRequests, 50);
  t.is(c?.timeouts.connectMs, 1000);
  t.is(snapshot.ports.find((p) => p.port === 8080)?.client.maxBodyBytes, 1_048_576);
  t.is(snapshot.ports.find((p) => p.port === 8080)?.client.maxUrlBytes, 2048);
  const broken = status.policies.find((p) => p.name === "broken");
  t.is(broken?.conditions[0]?.status, "False");
  t.regex(broken?.conditions[0]?.message ?? "", /loadBalancer\.type/);
});

test("documents: several per file, empty ones, unknown kinds ignored, broken YAML and nameless objects reported", (t) => {
  const { resources, errors } = fromYaml(`---
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: v1
kind: Service
metadata: {name: s}
---
apiVersion: v1
kind: Service
metadata: {}
---
kind: Gateway
metadata: {name: [unclosed
`);
  t.deepEqual(
    resources.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`),
    ["Service/default/s"],
  );
  t.is(errors.length, 2);
  t.regex(errors[0]?.message ?? "", /metadata/);
  t.regex(errors[1]?.message ?? "", /YAML/);
});
