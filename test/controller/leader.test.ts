// Leader election on a real API server's Lease: one leader among candidates, a stop() hands over
// within one retryPeriod, a stale holder is waited out on the candidate's own clock, and the
// least-privilege Role is enough while a credential without it is refused (403) and never leads.
import test from "ava";
import { readFileSync } from "node:fs";
import { Registry } from "prom-client";
import pino from "pino";
import { DEFAULT_LEADER_TIMINGS, LeaseElector } from "../../controller/leader/elector.js";
import { ERRORS_METRIC, LEADER_METRIC } from "../../controller/leader/metrics.js";
import { kubectl } from "../kube/server.js";
import { waitFor } from "../support/net.js";
import { sharedKubeApiServer, stopSharedKubeApiServer, testNamespace } from "../kube/shared.js";
import {
  ElectionLog,
  FAST_TIMINGS,
  kubeConfigFrom,
  leaderElectionRbac,
  metricValue,
  readLease,
  serviceAccountKubeconfig,
  startElector,
  uniqueIdentity,
} from "./leader-support.js";

// The first test to ask may wait for the control plane's build (CI builds it before the suite).
const FIRST_USE_MS = 95 * 60_000;
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

test.after.always(stopSharedKubeApiServer);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("timings are checked as client-go checks them: renewDeadline < leaseDuration, retryPeriod × 1.2 < renewDeadline", (t) => {
  // Nothing is sent: the checks run in the constructor.
  const request = () => Promise.reject(new Error("nothing is sent"));
  const make = (timings: Record<string, number>) => () =>
    new LeaseElector({ request, namespace: "default", timings, logger: pino({ level: "silent" }), registry: new Registry() });
  const refused: [Record<string, number>, RegExp][] = [
    [{ renewDeadlineMs: 12_000 }, /renewDeadline \(12000 ms\) must be shorter than leaseDuration \(12000 ms\)/],
    [{ leaseDurationMs: 5000, renewDeadlineMs: 6000 }, /renewDeadline \(6000 ms\) must be shorter than leaseDuration/],
    [{ retryPeriodMs: 7000 }, /renewDeadline \(8000 ms\) must be longer than retryPeriod × 1\.2 \(8400 ms\)/],
    [{ renewDeadlineMs: 2400 }, /must be longer than retryPeriod × 1\.2 \(2400 ms\)/],
    [{ leaseDurationMs: 2500, renewDeadlineMs: 2000, retryPeriodMs: 500 }, /leaseDurationMs must be whole seconds/],
    [{ retryPeriodMs: 0 }, /retryPeriodMs must be a positive number/],
    [{ leaseDurationMs: Number.NaN }, /leaseDurationMs must be a positive number/],
  ];
  for (const [timings, message] of refused) t.throws(make(timings), { message }, JSON.stringify(timings));
  const accepted = make({})();
  t.deepEqual(accepted.timings, { leaseDurationMs: 12_000, renewDeadlineMs: 8_000, retryPeriodMs: 2000 });
  t.deepEqual(make({ ...FAST_TIMINGS })().timings, FAST_TIMINGS);
  t.deepEqual(DEFAULT_LEADER_TIMINGS, accepted.timings);
  // The identity is unique per process and start: host (or POD_NAME), pid, random suffix.
  t.regex(accepted.identity, new RegExp(`_${process.pid}_[0-9a-f]{8}$`));
  t.not(make({})().identity, accepted.identity);
});

test("two electors on one Lease: exactly one leads, the other follows it; the Lease records the holder", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const namespace = await testNamespace(t, server, "leader");
  const kubeConfig = kubeConfigFrom(server.kubeconfigPath);
  const log = new ElectionLog();
  const [a, b] = ["a", "b"].map((p) => startElector(t, log, { kubeConfig, namespace, name: "pair", identity: uniqueIdentity(p), timings: FAST_TIMINGS })) as [
    ReturnType<typeof startElector>,
    ReturnType<typeof startElector>,
  ];
  await log.until("someone leads", (l) => l.leaders().length === 1, 10_000);
  // Past a lease duration (renewals, the candidate looking every retryPeriod) nobody else starts.
  const watchedMs = FAST_TIMINGS.leaseDurationMs + 2 * FAST_TIMINGS.retryPeriodMs;
  await sleep(watchedMs);
  t.is(log.periods().length, 1, JSON.stringify(log.events));
  const [leader] = log.leaders();
  const [winner, loser] = leader === a.elector.identity ? [a, b] : [b, a];
  t.true(winner.elector.isLeader());
  t.false(loser.elector.isLeader());
  t.is(loser.elector.leader(), winner.elector.identity);
  t.is(log.last("new-leader", loser.elector.identity)?.leader, winner.elector.identity);
  t.is(await metricValue(winner.registry, LEADER_METRIC, { lease: `${namespace}/pair` }), 1);
  t.is(await metricValue(loser.registry, LEADER_METRIC, { lease: `${namespace}/pair` }), 0);

  const lease = await readLease(server, namespace, "pair");
  t.is(lease?.holderIdentity, winner.elector.identity);
  t.is(lease?.leaseDurationSeconds, FAST_TIMINGS.leaseDurationMs / 1000);
  t.is(lease?.leaseTransitions, 0, "the creator leads without a transition");
  t.regex(lease?.acquireTime ?? "", MICRO_TIME);
  t.regex(lease?.renewTime ?? "", MICRO_TIME);
  // Renewed every retryPeriod: the renewTime is recent, the acquireTime stays.
  t.true(Date.now() - Date.parse(lease?.renewTime ?? "") < 2 * FAST_TIMINGS.retryPeriodMs + 1000, `renewTime ${lease?.renewTime}`);
  t.true(Date.parse(lease?.renewTime ?? "") - Date.parse(lease?.acquireTime ?? "") >= watchedMs - 2 * FAST_TIMINGS.retryPeriodMs);
});

test("the leader's stop() stops it leading, then releases the Lease: the other leads within one retryPeriod (12/8/2 s)", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const namespace = await testNamespace(t, server, "leader");
  const kubeConfig = kubeConfigFrom(server.kubeconfigPath);
  const log = new ElectionLog();
  const first = startElector(t, log, { kubeConfig, namespace, name: "handover", identity: uniqueIdentity("first") });
  await log.until("the first leads", (l) => l.leaders().includes(first.elector.identity), 10_000);
  const second = startElector(t, log, { kubeConfig, namespace, name: "handover", identity: uniqueIdentity("second") });
  await log.until("the second sees the first lead", (l) => l.last("new-leader", second.elector.identity)?.leader === first.elector.identity, 10_000);
  // Let the second settle into its polling rhythm so the handover is not timed from its first look.
  await sleep(DEFAULT_LEADER_TIMINGS.retryPeriodMs * 1.5);

  const stopping = Date.now();
  await first.elector.stop();
  const stopped = Date.now();
  t.false(first.elector.isLeader());
  t.like(log.last("stopped", first.elector.identity), { reason: "stopped" });
  await log.until("the second leads", (l) => l.leaders().includes(second.elector.identity), 10_000);
  const started = log.last("started", second.elector.identity)?.at ?? Number.NaN;
  t.log(`stop() took ${stopped - stopping} ms; the other led ${started - stopped} ms after it returned (retryPeriod ${DEFAULT_LEADER_TIMINGS.retryPeriodMs} ms)`);
  t.true(started - stopped <= DEFAULT_LEADER_TIMINGS.retryPeriodMs + 1000, `${started - stopped} ms`);
  // The first stopped leading before the second started: no overlap.
  t.deepEqual(log.overlaps(), []);
  const lease = await readLease(server, namespace, "handover");
  t.is(lease?.holderIdentity, second.elector.identity);
  t.is(lease?.leaseTransitions, 1);
  t.is(lease?.leaseDurationSeconds, DEFAULT_LEADER_TIMINGS.leaseDurationMs / 1000);
  t.is(await metricValue(first.registry, LEADER_METRIC, { lease: `${namespace}/handover` }), 0);
  t.is(await metricValue(second.registry, LEADER_METRIC, { lease: `${namespace}/handover` }), 1);
});

test("a holder that stopped renewing is waited out for leaseDuration on the candidate's clock, not judged by its renewTime", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const namespace = await testNamespace(t, server, "leader");
  // A Lease left by a replica that died an hour ago, by its own (maybe wrong) clock. Its own
  // leaseDurationSeconds (4), not the candidate's (6), says how long to wait.
  const ghostSeconds = 4;
  const hourAgo = new Date(Date.now() - 3_600_000).toISOString().replace("Z", "000Z");
  await kubectl(
    server.kubeconfigPath,
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "stale", namespace },
      spec: { holderIdentity: "gone-replica", leaseDurationSeconds: ghostSeconds, acquireTime: hourAgo, renewTime: hourAgo, leaseTransitions: 4 },
    }),
  );
  const log = new ElectionLog();
  const begun = Date.now();
  const candidate = startElector(t, log, { kubeConfig: kubeConfigFrom(server.kubeconfigPath), namespace, name: "stale", identity: uniqueIdentity("c"), timings: FAST_TIMINGS });
  await log.until("the candidate sees the old holder", (l) => l.last("new-leader")?.leader === "gone-replica", 10_000);
  const seen = log.last("new-leader")?.at ?? Number.NaN;
  await log.until("the candidate leads", (l) => l.leaders().length === 1, 10_000);
  const took = (log.last("started")?.at ?? Number.NaN) - seen;
  t.log(`first saw the stale Lease ${seen - begun} ms after starting; took it ${took} ms later (its leaseDurationSeconds ${ghostSeconds})`);
  t.true(took >= ghostSeconds * 1000 - 50, `took it after ${took} ms`);
  t.true(took <= ghostSeconds * 1000 + FAST_TIMINGS.retryPeriodMs + 1500, `took it after ${took} ms`);
  const lease = await readLease(server, namespace, "stale");
  t.is(lease?.holderIdentity, candidate.elector.identity);
  t.is(lease?.leaseTransitions, 5, "a takeover counts a transition");
  t.is(lease?.leaseDurationSeconds, FAST_TIMINGS.leaseDurationMs / 1000);
  t.true(Date.parse(lease?.acquireTime ?? "") >= begun - 1000, `acquireTime ${lease?.acquireTime}`);
});

test("a ServiceAccount with only get/create/update on Leases in its namespace elects and hands over", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const namespace = await testNamespace(t, server, "rbac");
  await kubectl(server.kubeconfigPath, ["apply", "-f", "-"], leaderElectionRbac(namespace, "meshgate-controller", "controller"));
  const kubeconfig = await serviceAccountKubeconfig(t, server, namespace, "controller");
  // What the Role allows and what it does not, as the API server judges it.
  // `kubectl auth can-i` prints yes and exits 0, or prints no and exits 1.
  const can = (...args: string[]) =>
    kubectl(server.kubeconfigPath, ["auth", "can-i", ...args, "-n", namespace, `--as=system:serviceaccount:${namespace}:controller`]).then(
      (out) => out.trim(),
      () => "no",
    );
  t.is(await can("create", "leases.coordination.k8s.io"), "yes");
  t.is(await can("update", "leases.coordination.k8s.io/meshgate-controller"), "yes");
  t.is(await can("update", "leases.coordination.k8s.io/someone-else"), "no");
  t.is(await can("delete", "leases.coordination.k8s.io/meshgate-controller"), "no");

  const kubeConfig = kubeConfigFrom(kubeconfig);
  const log = new ElectionLog();
  // No namespace or name given: the kubeconfig context's namespace and the default Lease name.
  const electors = ["a", "b"].map((p) => startElector(t, log, { kubeConfig, identity: uniqueIdentity(p), timings: FAST_TIMINGS }));
  await log.until("one leads", (l) => l.leaders().length === 1, 10_000);
  await sleep(FAST_TIMINGS.leaseDurationMs);
  t.is(log.leaders().length, 1);
  const leader = electors.find((e) => e.elector.isLeader());
  const other = electors.find((e) => !e.elector.isLeader());
  if (leader === undefined || other === undefined) return t.fail("expected one leader and one candidate");
  t.is(leader.elector.namespace, namespace);
  t.is(leader.elector.name, "meshgate-controller");
  await leader.elector.stop();
  await log.until("the other leads", (l) => l.leaders().includes(other.elector.identity), 5000);
  for (const e of electors) t.is(await metricValue(e.registry, ERRORS_METRIC, { reason: "forbidden" }), 0);
  t.is((await readLease(server, namespace, "meshgate-controller"))?.holderIdentity, other.elector.identity);
});

test("a credential without rights on Leases gets 403: counted, logged, and it never claims leadership", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const namespace = await testNamespace(t, server, "norbac");
  const kubeconfig = await serviceAccountKubeconfig(t, server, namespace, "nobody");
  const log = new ElectionLog();
  const refused = startElector(t, log, { kubeConfig: kubeConfigFrom(kubeconfig), namespace, name: "meshgate-controller", identity: uniqueIdentity("x"), timings: FAST_TIMINGS });
  const watchedMs = 2 * FAST_TIMINGS.leaseDurationMs;
  await sleep(watchedMs);
  t.deepEqual(log.events, [], "no leadership and no leader reported");
  t.false(refused.elector.isLeader());
  const forbidden = await metricValue(refused.registry, ERRORS_METRIC, { reason: "forbidden" });
  t.log(`${forbidden} forbidden answers in ${watchedMs} ms`);
  t.true(forbidden >= 5, `${forbidden} forbidden`);
  t.is(await metricValue(refused.registry, LEADER_METRIC, { lease: `${namespace}/meshgate-controller` }), 0);
  // One warning per streak of one reason (the repeats at debug), naming the RBAC refusal. (A slow
  // answer on a loaded machine, a timeout, breaks a streak.)
  const warnings = refused.lines.filter((l) => l["level"] === 40);
  t.like(warnings[0], { reason: "forbidden", status: 403, operation: "read" });
  t.true(warnings.every((w, i) => i === 0 || w["reason"] !== warnings[i - 1]?.["reason"]), JSON.stringify(warnings));
  t.true(warnings.length < forbidden / 2, `${warnings.length} warnings for ${forbidden} refusals`);
  t.regex(String(warnings[0]?.["error"]), /HTTP 403: leases\.coordination\.k8s\.io "meshgate-controller" is forbidden: User "system:serviceaccount:.*:nobody" cannot get resource "leases"/);
  // No token or credential in what it logged.
  const token = (JSON.parse(readFileSync(kubeconfig, "utf8")) as { users: { user: { token: string } }[] }).users[0]?.user.token ?? "unset";
  t.false(JSON.stringify(refused.lines).includes(token));
  t.is(await readLease(server, namespace, "meshgate-controller"), undefined);
});

test("the Lease rewritten to name another holder: the leader's renewal conflicts (409) and it stops leading at once; the Lease deleted: recreated without a gap", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const namespace = await testNamespace(t, server, "leader");
  const log = new ElectionLog();
  const only = startElector(t, log, { kubeConfig: kubeConfigFrom(server.kubeconfigPath), namespace, name: "edited", identity: uniqueIdentity("only"), timings: FAST_TIMINGS });
  await log.until("it leads", (l) => l.leaders().length === 1, 10_000);

  // Someone else's write (kubectl here, another candidate in a cluster) changes the resourceVersion.
  const patched = Date.now();
  await kubectl(server.kubeconfigPath, ["patch", "lease", "-n", namespace, "edited", "--type=merge", "-p", '{"spec":{"holderIdentity":"intruder"}}']);
  await log.until("it stops leading", (l) => l.last("stopped") !== undefined, 5000);
  const lost = log.last("stopped");
  t.like(lost, { reason: "lost-lease" });
  t.log(`stopped leading ${(lost?.at ?? 0) - patched} ms after the Lease was given to another holder`);
  t.true((lost?.at ?? Infinity) - patched <= FAST_TIMINGS.retryPeriodMs + 1000);
  t.is(only.elector.leader(), "intruder");
  t.true(await metricValue(only.registry, ERRORS_METRIC, { reason: "conflict" }) >= 1);
  // The intruder never renews: it is waited out like any holder, then taken back.
  await log.until("it leads again", (l) => l.leaders().length === 1, FAST_TIMINGS.leaseDurationMs + 3000);
  const back = (log.last("started")?.at ?? 0) - (lost?.at ?? 0);
  t.true(back >= FAST_TIMINGS.leaseDurationMs - FAST_TIMINGS.retryPeriodMs - 100, `took it back after ${back} ms`);
  t.is((await readLease(server, namespace, "edited"))?.leaseTransitions, 1);

  // A deleted Lease is created again on the next renewal; leadership goes on without a gap.
  const periods = log.periods().length;
  await kubectl(server.kubeconfigPath, ["delete", "lease", "-n", namespace, "edited"]);
  const deleted = Date.now();
  await waitFor(async () => (await readLease(server, namespace, "edited"))?.holderIdentity === only.elector.identity, 5000, 50);
  t.log(`the deleted Lease was there again ${Date.now() - deleted} ms later`);
  t.is((await readLease(server, namespace, "edited"))?.leaseTransitions, 0);
  await sleep(FAST_TIMINGS.renewDeadlineMs);
  t.true(only.elector.isLeader());
  t.is(log.periods().length, periods, JSON.stringify(log.events));
});
