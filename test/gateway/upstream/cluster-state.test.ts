// ClusterState across Snapshots: what it keeps, what it replaces.
import test from "ava";
import { type ClusterInput, clusterSchema } from "../../../gateway/snapshot.js";
import { ClusterState } from "../../../gateway/upstream/cluster-state.js";
import { ctx, letter, tally } from "../../support/upstream-fixtures.js";

const cluster = (hosts: [number, number?][], extra: Partial<ClusterInput> = {}) =>
  clusterSchema.parse({
    name: "default/svc:80",
    endpoints: hosts.map(([host, weight]) => ({ address: `10.0.0.${host}`, port: 8080, weight })),
    outlier: { consecutiveFailures: 2, baseEjectionMs: 1000, maxEjectionPercent: 100 },
    ...extra,
  });

test("endpoints that stay keep their state object, in-flight count and ejection", (t) => {
  const first = new ClusterState(cluster([[1], [2], [3]]));
  const [a, b] = first.endpoints;
  a!.active = 3;
  first.outlier.failure(b!, 0);
  t.true(first.outlier.failure(b!, 0));
  const next = new ClusterState(cluster([[2], [1], [4]]), first);
  t.is(next.endpoints[0], b);
  t.is(next.endpoints[1], a);
  t.is(a!.active, 3);
  t.true(next.outlier.isEjected(b!, 500));
  t.is(next.endpoints[2]?.active, 0);
  t.is(next.endpoints[2]?.ejectedUntil, 0);
  t.is(next.endpoints.length, 3, "the dropped endpoint is gone");
  t.false(next.endpoints.some((ep) => ep.endpoint.address === "10.0.0.3"));
});

test("the new Snapshot's weights and balancer take effect on kept endpoints", (t) => {
  const first = new ClusterState(cluster([[1], [2]]));
  const next = new ClusterState(cluster([[1, 3], [2, 1]]), first);
  t.is(next.endpoints[0], first.endpoints[0]);
  t.is(next.endpoints[0]?.endpoint.weight, 3);
  t.deepEqual(tally(400, () => next.pick(ctx(), 0)), { a: 300, b: 100 });
});

test("the ejection carried over keeps the endpoint out of the new balancer's picks", (t) => {
  const first = new ClusterState(cluster([[1], [2], [3]]));
  const b = first.endpoints[1]!;
  first.outlier.failure(b, 0);
  first.outlier.failure(b, 0);
  const leastRequest = cluster([[1], [2], [3]], { loadBalancer: { type: "LeastRequest" } });
  const next = new ClusterState(leastRequest, first);
  t.is(tally(300, () => next.pick(ctx(), 10))["b"], undefined);
  t.true((tally(300, () => next.pick(ctx(), 1000))["b"] ?? 0) > 50);
});

test("breaker and retry budget counters carry over and the new limits apply", (t) => {
  const first = new ClusterState(cluster([[1]], { circuitBreaker: { maxRequests: 5 } }));
  for (let i = 0; i < 3; i++) first.breaker.tryStartRequest();
  t.true(first.retryBudget.tryAcquire(0));
  const tighter = cluster([[1]], {
    circuitBreaker: { maxRequests: 3 },
    retry: { minRetryConcurrency: 1, budgetPercent: 0 },
  });
  const next = new ClusterState(tighter, first);
  t.is(next.breaker.active, 3);
  t.is(next.breaker.tryStartRequest(), "max-requests");
  first.breaker.endRequest(); // a request of the old Snapshot ends
  t.is(next.breaker.tryStartRequest(), "ok");
  t.is(next.retryBudget.active, 1);
  t.false(next.retryBudget.tryAcquire(0));
});

test("the same address listed twice is one endpoint", (t) => {
  const state = new ClusterState(cluster([[1], [2], [1, 5]]));
  t.deepEqual(
    state.endpoints.map((ep) => letter(ep)),
    ["a", "b"],
  );
  t.is(state.endpoints[0]?.endpoint.weight, 1);
});

test("the outlier share is counted over the current Snapshot's endpoints", (t) => {
  const first = new ClusterState(
    cluster([[1], [2], [3], [4]], { outlier: { consecutiveFailures: 1, maxEjectionPercent: 50 } }),
  );
  t.true(first.outlier.failure(first.endpoints[0]!, 0));
  t.true(first.outlier.failure(first.endpoints[1]!, 0));
  // Down to three endpoints, two of them ejected: no room for a third ejection.
  const next = new ClusterState(
    cluster([[1], [2], [3]], { outlier: { consecutiveFailures: 1, maxEjectionPercent: 50 } }),
    first,
  );
  t.false(next.outlier.failure(next.endpoints[2]!, 0));
});

test("a cluster without endpoints picks nothing", (t) => {
  t.is(new ClusterState(cluster([])).pick(ctx(), 0), undefined);
});
