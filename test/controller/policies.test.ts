// BackendTrafficPolicy -> cluster settings, ClientTrafficPolicy -> port settings, and their status.
import test from "ava";
import { DEFAULT_TRUSTED_PROXY_CIDRS } from "../../gateway/listener/cidr.js";
import { gateway, httpRoute, listener, meshgatePolicy, run, service } from "../support/controller-yaml.js";

const GW = gateway(
  "gw",
  "[{name: web, protocol: HTTP, port: 8080}, {name: admin, protocol: HTTP, port: 9090}, {name: alt, protocol: HTTP, port: 8080, hostname: alt.example}]",
);
const API = service("api", "[{port: 80}]");

const policy = meshgatePolicy;

function routeTo(name: string, parent: string): string {
  return httpRoute(
    name,
    `parentRefs: [{name: gw, sectionName: ${parent}}]\nrules: [{matches: [{path: {value: /${name}}}], backendRefs: [{name: api, port: 80}]}]`,
  );
}

test("BackendTrafficPolicy on a route maps every field onto that route's clusters", (t) => {
  const { snapshot, status } = run(`${GW}${API}${routeTo("r", "web")}
${policy(
  "BackendTrafficPolicy",
  "tuned",
  `targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]
loadBalancer: {type: ConsistentHash, consistentHash: {type: Cookie, cookie: {name: session}}}
retry:
  numRetries: 4
  retryOn: {triggers: [connect-failure], httpStatusCodes: [502, 503]}
  perRetry: {timeout: 2s, backOff: {baseInterval: 10ms, maxInterval: 1s}}
  budgetPercent: 50
healthCheck: {passive: {consecutiveErrors: 3, baseEjectionTime: 10s, maxEjectionTime: 2m, maxEjectionPercent: 30}}
circuitBreaker: {maxConnections: 100, maxParallelRequests: 50, maxPendingRequests: 5}
timeout: {tcp: {connectTimeout: 1s}, http: {requestTimeout: 20s, connectionIdleTimeout: 90s}}
connection: {perEndpoint: 8}`,
)}`);
  t.is(snapshot.clusters.length, 1);
  const c = snapshot.clusters[0];
  t.is(c?.name, "default/api:80@default/tuned");
  t.deepEqual(c?.loadBalancer, { type: "ConsistentHash", hashOn: { type: "Cookie", name: "session" } });
  t.deepEqual(c?.retry, {
    attempts: 4,
    on: ["connect-failure"],
    statusCodes: [502, 503],
    perTryTimeoutMs: 2000,
    backoffBaseMs: 10,
    backoffMaxMs: 1000,
    budgetPercent: 50,
    minRetryConcurrency: 3,
  });
  t.deepEqual(c?.outlier, {
    consecutiveFailures: 3,
    baseEjectionMs: 10_000,
    maxEjectionMs: 120_000,
    maxEjectionPercent: 30,
  });
  t.deepEqual(c?.circuitBreaker, { maxConnections: 100, maxPendingRequests: 5, maxRequests: 50 });
  t.deepEqual(c?.timeouts, { connectMs: 1000, idleMs: 90_000, responseHeadMs: 20_000 });
  t.is(c?.connectionsPerEndpoint, 8);
  t.is(listener(snapshot, "default/gw/web").actions[0]?.backends[0]?.cluster, "default/api:80@default/tuned");
  t.deepEqual(status.policies[0]?.conditions[0], {
    type: "Accepted",
    status: "True",
    reason: "Accepted",
    message: "applies to HTTPRoute r",
    observedGeneration: 1,
  });
});

test("the most specific BackendTrafficPolicy wins: route rule, route, listener, Gateway; one Service can be several clusters", (t) => {
  const { snapshot } = run(`${GW}${API}
${routeTo("plain", "web")}${routeTo("routed", "web")}${routeTo("ruled", "web")}${routeTo("on-admin", "admin")}
${httpRoute("named", "parentRefs: [{name: gw, sectionName: web}]\nrules: [{name: hot, matches: [{path: {value: /hot}}], backendRefs: [{name: api, port: 80}]}, {name: cold, matches: [{path: {value: /cold}}], backendRefs: [{name: api, port: 80}]}]")}
${policy("BackendTrafficPolicy", "gw-wide", "targetRefs: [{kind: Gateway, name: gw}]\nloadBalancer: {type: Random}")}
${policy("BackendTrafficPolicy", "admin-only", "targetRefs: [{kind: Gateway, name: gw, sectionName: admin}]\nloadBalancer: {type: LeastRequest}")}
${policy("BackendTrafficPolicy", "route", "targetRefs: [{kind: HTTPRoute, name: routed}, {kind: HTTPRoute, name: named}]\nconnection: {perEndpoint: 2}")}
${policy("BackendTrafficPolicy", "rule", "targetRefs: [{kind: HTTPRoute, name: named, sectionName: hot}]\nretry: {numRetries: 0}")}
`);
  const clusterOf = (listenerName: string, rule: string, route: string) =>
    listener(snapshot, listenerName).actions.find((a) => a.route === `default/${route}` && a.rule === rule)
      ?.backends[0]?.cluster;
  t.is(clusterOf("default/gw/web", "0", "plain"), "default/api:80@default/gw-wide");
  t.is(clusterOf("default/gw/web", "0", "routed"), "default/api:80@default/route");
  t.is(clusterOf("default/gw/web", "hot", "named"), "default/api:80@default/rule");
  t.is(clusterOf("default/gw/web", "cold", "named"), "default/api:80@default/route");
  t.is(clusterOf("default/gw/admin", "0", "on-admin"), "default/api:80@default/admin-only");
  t.deepEqual(
    snapshot.clusters.map((c) => [c.name, c.loadBalancer.type, c.connectionsPerEndpoint, c.retry.attempts]),
    [
      ["default/api:80@default/admin-only", "LeastRequest", 64, 2],
      ["default/api:80@default/gw-wide", "Random", 64, 2],
      ["default/api:80@default/route", "RoundRobin", 2, 2],
      ["default/api:80@default/rule", "RoundRobin", 64, 0],
    ],
  );
});

test("invalid, conflicting and dangling BackendTrafficPolicies are reported and ignored", (t) => {
  const { snapshot, status } = run(`${GW}${API}${routeTo("r", "web")}
${policy("BackendTrafficPolicy", "older", "targetRefs: [{kind: HTTPRoute, name: r}]\nloadBalancer: {type: Random}", "2020-01-01T00:00:00Z")}
${policy("BackendTrafficPolicy", "newer", "targetRefs: [{kind: HTTPRoute, name: r}]\nloadBalancer: {type: LeastRequest}", "2021-01-01T00:00:00Z")}
${policy("BackendTrafficPolicy", "fastest", "targetRefs: [{kind: Gateway, name: gw}]\nloadBalancer: {type: Fastest}")}
${policy("BackendTrafficPolicy", "typo", "targetRefs: [{kind: Gateway, name: gw}]\nloadbalancer: {type: Random}")}
${policy("BackendTrafficPolicy", "hash", "targetRefs: [{kind: Gateway, name: gw}]\nloadBalancer: {type: ConsistentHash, consistentHash: {type: Header}}")}
${policy("BackendTrafficPolicy", "svc", "targetRefs: [{group: '', kind: Service, name: api}]")}
${policy("BackendTrafficPolicy", "bad-time", "targetRefs: [{kind: Gateway, name: gw}]\ntimeout: {tcp: {connectTimeout: 5 seconds}}")}
${policy("BackendTrafficPolicy", "ghost", "targetRefs: [{kind: HTTPRoute, name: nope}, {kind: Gateway, name: gw, sectionName: nope}]")}
`);
  t.deepEqual(
    snapshot.clusters.map((c) => c.name),
    ["default/api:80@default/older"],
  );
  const accepted = Object.fromEntries(
    status.policies.map((p) => [
      p.name,
      `${p.conditions[0]?.status}/${p.conditions[0]?.reason}: ${p.conditions[0]?.message}`,
    ]),
  );
  t.regex(accepted["older"] ?? "", /^True\/Accepted/);
  t.regex(
    accepted["newer"] ?? "",
    /^False\/Conflicted: HTTPRoute r already has BackendTrafficPolicy default\/older/,
  );
  t.regex(accepted["fastest"] ?? "", /^False\/Invalid: spec\.loadBalancer\.type: /);
  t.regex(accepted["typo"] ?? "", /^False\/Invalid: .*loadbalancer/);
  t.regex(
    accepted["hash"] ?? "",
    /^False\/Invalid: spec\.loadBalancer\.consistentHash\.header\.name: required/,
  );
  t.regex(
    accepted["svc"] ?? "",
    /^False\/Invalid: spec\.targetRefs\.0: a target must be a Gateway or HTTPRoute/,
  );
  t.regex(
    accepted["bad-time"] ?? "",
    /^False\/Invalid: spec\.timeout\.tcp\.connectTimeout: "5 seconds" is not a duration/,
  );
  t.regex(
    accepted["ghost"] ?? "",
    /^False\/TargetNotFound: HTTPRoute nope not found; Gateway gw \(section nope\) not found/,
  );
});

test("ClientTrafficPolicy sets the client limits and timeouts of its Gateway's ports", (t) => {
  const { snapshot, status } = run(`${GW}
${policy(
  "ClientTrafficPolicy",
  "limits",
  `targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
clientLimits: {maxHeaderBytes: 8192, maxUrlBytes: 2048, maxBodyBytes: 1048576}
timeout: {http: {requestReceivedTimeout: 10s, idleTimeout: 10s}}
path: {escapedSlashesAction: RejectRequest, disableMergeSlashes: true}
http1: {pipelining: true}`,
)}`);
  const expected = {
    maxHeaderBytes: 8192,
    maxUrlBytes: 2048,
    maxBodyBytes: 1_048_576,
    headerTimeoutMs: 10_000,
    idleTimeoutMs: 10_000,
    proxyProtocol: false,
    trustedHops: 0,
    escapedSlashes: "RejectRequest",
    mergeSlashes: false,
    pipelining: true,
  };
  // The Snapshot's default for what the policy leaves out.
  const defaults = { trustedProxyCIDRs: DEFAULT_TRUSTED_PROXY_CIDRS };
  t.deepEqual(
    snapshot.ports.map((p) => [p.port, p.client]),
    [
      [8080, { ...expected, ...defaults }],
      [9090, { ...expected, ...defaults }],
    ],
  );
  t.is(status.policies[0]?.conditions[0]?.status, "True");
});

test("ClientTrafficPolicy refuses timeouts the listener cannot honour, with the reason", (t) => {
  const { snapshot, status } = run(`${GW}
${policy(
  "ClientTrafficPolicy",
  "slow",
  `targetRefs: [{kind: Gateway, name: gw}]
timeout: {http: {requestReceivedTimeout: 5s}}`,
)}`);
  t.is(status.policies[0]?.conditions[0]?.status, "False");
  t.regex(status.policies[0]?.conditions[0]?.message ?? "", /only 10s is supported/);
  t.is(snapshot.ports[0]?.client.headerTimeoutMs, 10_000);
});

test("ClientTrafficPolicy per port: one aimed at a listener beats one aimed at the Gateway; the loser is Conflicted", (t) => {
  const { snapshot, status } = run(`${GW}
${policy("ClientTrafficPolicy", "wide", "targetRefs: [{kind: Gateway, name: gw}]\nclientLimits: {maxBodyBytes: 10}")}
${policy("ClientTrafficPolicy", "alt-only", "targetRefs: [{kind: Gateway, name: gw, sectionName: alt}]\nclientLimits: {maxBodyBytes: 20}")}
${policy("ClientTrafficPolicy", "admin-only", "targetRefs: [{kind: Gateway, name: gw, sectionName: admin}]\nclientLimits: {maxBodyBytes: 30}", "2020-01-01T00:00:00Z")}
${policy("ClientTrafficPolicy", "admin-too", "targetRefs: [{kind: Gateway, name: gw, sectionName: admin}]\nclientLimits: {maxBodyBytes: 40}", "2021-01-01T00:00:00Z")}
${policy("ClientTrafficPolicy", "route", "targetRefs: [{kind: HTTPRoute, name: r}]")}
`);
  t.deepEqual(
    snapshot.ports.map((p) => [p.port, p.client.maxBodyBytes, p.client.maxHeaderBytes]),
    [
      [8080, 20, 16_384],
      [9090, 30, 16_384],
    ],
  );
  const accepted = Object.fromEntries(status.policies.map((p) => [p.name, p.conditions[0]?.reason]));
  t.deepEqual(accepted, {
    "admin-only": "Accepted",
    "admin-too": "Conflicted",
    "alt-only": "Accepted",
    route: "Invalid",
    wide: "Conflicted",
  });
  t.regex(
    status.policies.find((p) => p.name === "wide")?.conditions[0]?.message ?? "",
    /port (8080|9090) takes its client settings from default\/(alt-only|admin-only)/,
  );
});

test("ClientTrafficPolicy turns on the PROXY protocol and trusted X-Forwarded-For hops; an optional header is refused", (t) => {
  const { snapshot, status } = run(`${GW}
${policy(
  "ClientTrafficPolicy",
  "behind-lb",
  `targetRefs: [{kind: Gateway, name: gw}]
proxyProtocol: {}
clientIPDetection: {xForwardedFor: {numTrustedHops: 2}}`,
)}`);
  t.is(status.policies[0]?.conditions[0]?.status, "True");
  t.true(snapshot.ports.every((p) => p.client.proxyProtocol && p.client.trustedHops === 2));

  const optional = run(`${GW}
${policy("ClientTrafficPolicy", "loose", "targetRefs: [{kind: Gateway, name: gw}]\nproxyProtocol: {optional: true}")}`);
  t.is(optional.status.policies[0]?.conditions[0]?.status, "False");
  t.regex(optional.status.policies[0]?.conditions[0]?.message ?? "", /PROXY header is required/);
  t.false(optional.snapshot.ports[0]?.client.proxyProtocol);
});
