// Load balancing, outlier detection, retry policy and cluster state as pure logic.
import test from "ava";
import { clusterSchema, outlierSchema, retrySchema } from "../../gateway/snapshot.js";
import { ConsistentHash, createBalancer, SmoothRoundRobin } from "../../gateway/upstream/balancer.js";
import { ClusterState } from "../../gateway/upstream/cluster-state.js";
import { EndpointState } from "../../gateway/upstream/endpoint-state.js";
import { OutlierDetector } from "../../gateway/upstream/outlier.js";
import { backoffMs, RetryBudget, retryable } from "../../gateway/upstream/retry-budget.js";

const ctx = { headers: {}, sourceIp: "192.0.2.1" };
const eps = (weights: number[]) =>
  weights.map((w, i) => new EndpointState({ address: `10.0.0.${i + 1}`, port: 80, weight: w }));
const name = (ep: EndpointState | undefined) =>
  String.fromCharCode(97 + Number(ep?.endpoint.address.split(".")[3]) - 1);

test("smooth weighted round robin: weights 5,1,1 give a a b a c a a", (t) => {
  const rr = new SmoothRoundRobin(eps([5, 1, 1]));
  t.is(Array.from({ length: 7 }, () => name(rr.pick(ctx, 0))).join(" "), "a a b a c a a");
});

test("round robin skips ejected endpoints and, when all are ejected, still answers (panic mode)", (t) => {
  const list = eps([1, 1, 1]);
  const rr = new SmoothRoundRobin(list);
  list[0]!.ejectedUntil = 1000;
  const picked = new Set(Array.from({ length: 30 }, () => name(rr.pick(ctx, 500))));
  t.deepEqual([...picked].sort(), ["b", "c"]);
  for (const ep of list) ep.ejectedUntil = 1000;
  t.truthy(rr.pick(ctx, 500));
});

test("a retry avoids the endpoint that just failed when another exists", (t) => {
  const list = eps([1, 1]);
  const rr = new SmoothRoundRobin(list);
  for (let i = 0; i < 10; i++) t.is(rr.pick(ctx, 0, list[0]), list[1]);
});

test("least request prefers the endpoint with fewer requests in flight", (t) => {
  const list = eps([1, 1]);
  const lb = createBalancer({ type: "LeastRequest", choices: 2 }, list);
  list[0]!.active = 5;
  for (let i = 0; i < 10; i++) t.is(lb.pick(ctx, 0), list[1]);
});

test("consistent hash: same key same endpoint; removing one endpoint moves only its keys", (t) => {
  const list = eps(Array.from({ length: 10 }, () => 1));
  const hashOn = { type: "Header" as const, name: "x-user" };
  const before = new ConsistentHash(list, hashOn, new SmoothRoundRobin(list));
  const owner = new Map<string, EndpointState | undefined>();
  for (let i = 0; i < 10_000; i++)
    owner.set(`user-${i}`, before.pick({ headers: { "x-user": `user-${i}` }, sourceIp: "" }, 0));
  t.is(before.pick({ headers: { "x-user": "user-7" }, sourceIp: "" }, 0), owner.get("user-7"));
  const removed = list[3]!;
  const rest = list.filter((ep) => ep !== removed);
  const after = new ConsistentHash(rest, hashOn, new SmoothRoundRobin(rest));
  let moved = 0;
  let orphaned = 0;
  for (const [key, ep] of owner) {
    const now = after.pick({ headers: { "x-user": key }, sourceIp: "" }, 0);
    if (ep === removed) orphaned++;
    else if (now !== ep) moved++;
  }
  t.is(moved, 0);
  t.true(orphaned > 500 && orphaned < 1500, `removed endpoint owned ${orphaned} keys`);
});

test("consistent hash on a cookie and on the source IP", (t) => {
  const list = eps([1, 1, 1, 1]);
  const byCookie = createBalancer({ type: "ConsistentHash", hashOn: { type: "Cookie", name: "sid" } }, list);
  const a = byCookie.pick({ headers: { cookie: "theme=dark; sid=abc" }, sourceIp: "" }, 0);
  for (let i = 0; i < 5; i++)
    t.is(byCookie.pick({ headers: { cookie: "sid=abc; other=1" }, sourceIp: "" }, 0), a);
  const byIp = createBalancer({ type: "ConsistentHash", hashOn: { type: "SourceIP" } }, list);
  const b = byIp.pick({ headers: {}, sourceIp: "198.51.100.7" }, 0);
  for (let i = 0; i < 5; i++) t.is(byIp.pick({ headers: {}, sourceIp: "198.51.100.7" }, 0), b);
});

test("outlier detection ejects after consecutive failures, backs off longer each time, honours the max share", (t) => {
  const list = eps([1, 1, 1, 1]);
  const detector = new OutlierDetector(
    outlierSchema.parse({ consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionPercent: 50 }),
    () => list,
  );
  const [a, b, c] = list;
  t.false(detector.failure(a!, 0));
  detector.success(a!);
  t.false(detector.failure(a!, 0));
  t.false(detector.failure(a!, 0));
  t.true(detector.failure(a!, 0));
  t.true(detector.isEjected(a!, 999));
  t.false(detector.isEjected(a!, 1000));
  for (let i = 0; i < 3; i++) detector.failure(a!, 2000);
  t.is(a!.ejectedUntil, 4000);
  for (let i = 0; i < 3; i++) detector.failure(b!, 2000);
  t.true(detector.isEjected(b!, 2000));
  for (let i = 0; i < 3; i++) t.false(detector.failure(c!, 2000));
  t.false(detector.isEjected(c!, 2000));
});

test("retry policy: idempotent methods only, configured triggers and codes, bounded jittered back-off", (t) => {
  const cfg = retrySchema.parse({ statusCodes: [503] });
  t.true(retryable("GET", { kind: "connect-failure" }, cfg));
  t.true(retryable("PUT", { kind: "status", status: 503 }, cfg));
  t.false(retryable("POST", { kind: "connect-failure" }, cfg));
  t.false(retryable("GET", { kind: "status", status: 500 }, cfg));
  t.false(retryable("GET", { kind: "reset" }, retrySchema.parse({ on: ["connect-failure"] })));
  t.is(backoffMs(0, cfg, 0.999), 24);
  t.is(backoffMs(10, cfg, 0.999), 249);
});

test("the retry budget allows a floor of concurrent retries, then a share of active requests", (t) => {
  const budget = new RetryBudget(retrySchema.parse({ budgetPercent: 20, minRetryConcurrency: 2 }));
  t.true(budget.tryAcquire(1));
  t.true(budget.tryAcquire(1));
  t.false(budget.tryAcquire(1));
  t.true(budget.tryAcquire(20));
  t.true(budget.tryAcquire(20));
  t.false(budget.tryAcquire(20));
  budget.release();
  t.true(budget.tryAcquire(20));
});

test("a new Snapshot keeps endpoint ejections and the breaker's counters for endpoints that stay", (t) => {
  const cfg = clusterSchema.parse({
    name: "c",
    endpoints: [
      { address: "10.0.0.1", port: 80 },
      { address: "10.0.0.2", port: 80 },
    ],
  });
  const first = new ClusterState(cfg);
  first.endpoints[0]!.ejectedUntil = 5000;
  first.breaker.tryStartRequest();
  const next = new ClusterState(
    clusterSchema.parse({
      ...cfg,
      endpoints: [
        { address: "10.0.0.1", port: 80 },
        { address: "10.0.0.3", port: 80 },
      ],
    }),
    first,
  );
  t.is(next.endpoints[0], first.endpoints[0]);
  t.is(next.endpoints[0]?.ejectedUntil, 5000);
  t.is(next.endpoints[1]?.ejectedUntil, 0);
  t.is(next.breaker.active, 1);
});
