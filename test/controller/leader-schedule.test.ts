// Generated schedules of elector processes on one Lease of a real API server: replicas started,
// stopped (SIGTERM: stop() releases), SIGKILLed, the leader in particular, with waits between.
// Invariant: no two of them ever lead at the same time. Their reports share one clock (one
// machine), and a leader stops leading renewDeadline after its last renewal while others wait
// leaseDuration from when they saw that renewal, so the documented window for an overlap is 0 ms
// (it would take a process stalled for leaseDuration − renewDeadline). Liveness: when the
// schedule ends with replicas running, exactly one of them leads within leaseDuration + retryPeriod.
import test from "ava";
import fc from "fast-check";
import { fcSeed } from "../support/fc-seed.js";
import { sharedKubeApiServer, stopSharedKubeApiServer, testNamespace } from "../kube/shared.js";
import { ElectionLog, type ElectorChild, FAST_TIMINGS, startElectorChild, uniqueIdentity } from "./leader-support.js";

const FIRST_USE_MS = 95 * 60_000;
const SLOTS = 3;
/** The whole property stops generating new schedules after this (the one running finishes). */
const TIME_BUDGET_MS = 60_000;
/** Liveness: a SIGKILLed leader's lease runs out, then the next look takes it; plus process start-up. */
const SETTLE_MS = FAST_TIMINGS.leaseDurationMs + FAST_TIMINGS.retryPeriodMs + 3500;
const OVERLAP_WINDOW_MS = 0;

test.after.always(stopSharedKubeApiServer);

type Step =
  | { kind: "start"; slot: number }
  | { kind: "stop"; slot: number }
  | { kind: "kill"; slot: number }
  | { kind: "stop-leader" }
  | { kind: "kill-leader" }
  | { kind: "wait"; ms: number };

const slot = fc.nat(SLOTS - 1);
const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("start" as const), slot }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("stop" as const), slot }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("kill" as const), slot }), weight: 1 },
  { arbitrary: fc.constant({ kind: "stop-leader" as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: "kill-leader" as const }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 100, max: 3000 }) }), weight: 3 },
);

test("generated start/stop/kill schedules: never two leaders at once, and one leads when the schedule settles", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const namespace = await testNamespace(t, server, "schedule");
  const seed = fcSeed();
  t.log(`seed=${seed} (replay: FC_SEED=${seed})`);
  const totals = { runs: 0, steps: 0, leaderships: 0, kills: 0, stops: 0, settleMs: [] as number[] };

  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 3, maxLength: 8 }), async (steps) => {
      const lease = `schedule-${totals.runs++}`;
      const log = new ElectionLog();
      const slots = new Map<number, ElectorChild>();
      const running = () => [...slots.values()].filter((c) => c.running());
      const leaderChild = () => running().find((c) => log.leaders().includes(c.identity));
      const start = (i: number) => {
        if (slots.get(i)?.running()) return;
        const identity = uniqueIdentity(`s${i}`);
        slots.set(i, startElectorChild(t, log, { kubeconfigPath: server.kubeconfigPath, namespace, name: lease, identity, timings: FAST_TIMINGS }));
      };
      try {
        start(0);
        for (const s of [{ kind: "wait", ms: 1500 } as Step, ...steps]) {
          totals.steps++;
          const target = s.kind === "stop-leader" || s.kind === "kill-leader" ? leaderChild() : "slot" in s ? slots.get(s.slot) : undefined;
          if (s.kind === "start") start(s.slot);
          else if (s.kind === "wait") await new Promise((resolve) => setTimeout(resolve, s.ms));
          else if (target?.running() === true && (s.kind === "stop" || s.kind === "stop-leader")) {
            totals.stops++;
            await target.terminate();
          } else if (target?.running() === true) {
            totals.kills++;
            await target.kill();
          }
          const overlaps = log.overlaps().filter((o) => o.ms > OVERLAP_WINDOW_MS);
          if (overlaps.length > 0) throw new Error(`two leaders at once after ${JSON.stringify(s)}: ${JSON.stringify(overlaps)}`);
        }
        if (running().length > 0) {
          const settling = Date.now();
          await log.until(`one of ${running().length} running replicas leads`, (l) => l.leaders().length === 1 && leaderChild() !== undefined, SETTLE_MS);
          totals.settleMs.push(Date.now() - settling);
        }
      } finally {
        for (const child of running()) await child.kill();
      }
      totals.leaderships += log.periods().length;
      const overlaps = log.overlaps().filter((o) => o.ms > OVERLAP_WINDOW_MS);
      if (overlaps.length > 0) throw new Error(`two leaders at once: ${JSON.stringify(overlaps)}; events ${JSON.stringify(log.events)}`);
    }),
    // Real processes and a real lease: no shrinking (each try costs seconds), bounded in time.
    { seed, numRuns: 10, endOnFailure: true, interruptAfterTimeLimit: TIME_BUDGET_MS, markInterruptAsFailure: false },
  );
  t.log(
    `${totals.runs} schedules, ${totals.steps} steps: ${totals.leaderships} leaderships, ${totals.stops} stops, ${totals.kills} kills, ` +
      `no overlap; settled to one leader in ${totals.settleMs.join(", ")} ms`,
  );
  t.true(totals.runs >= 2, `${totals.runs} schedules ran`);
  t.true(totals.leaderships >= totals.runs);
});
