// A simulated data-plane worker thread for local-shares-threads.test.ts: one RateLimits whose
// Local limits are counted by the test's LocalLedger on the main thread, reached through a real
// MessagePort (lease-link.ts), as a host would wire it.
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { leaseLinkOn } from "../../../gateway/ratelimit/lease-link.js";
import { compileRateLimits, PENDING, RateLimits, type RateLimitVerdict } from "../../../gateway/ratelimit/runtime.js";
import type { RateLimitConfig } from "../../../gateway/snapshot.js";
import { DataPlaneMetrics } from "../../../gateway/telemetry/metrics.js";

export interface WorkerSetup {
  lease: MessagePort;
  workers: number;
  timeoutMs: number;
}

/** Run `requests` checks of `rule` for user `user`, `burst` of them per turn. */
export interface RunCommand {
  id: number;
  rule: RateLimitConfig;
  user: string;
  requests: number;
  burst: number;
  /** Every request from a user of its own (`user`-n): each is a key's first request. */
  distinct?: boolean;
}

export interface RunReport {
  id: number;
  allowed: number;
  denied: number;
  /** RateLimit-Policy values seen, and the limit= of every RateLimit value. */
  policies: string[];
  limits: number[];
  /** Decisions answered from this worker's share (the ledger did not answer). */
  insurance: number;
  /** Milliseconds from check to verdict: the slowest, and the median. */
  maxWaitMs: number;
  medianWaitMs: number;
  elapsedMs: number;
}

const port = parentPort;
if (port === null) throw new Error("local-shares-worker must run in a worker thread");
const setup = workerData as WorkerSetup;
const link = leaseLinkOn(setup.lease);
const metrics = new DataPlaneMetrics();
const rateLimits = new RateLimits(
  { eventLoops: setup.workers, localShares: { channel: link.channel, timeoutMs: setup.timeoutMs } },
  metrics.rateLimit,
);

async function insurance(): Promise<number> {
  const text = await metrics.registry.metrics();
  return Number(/meshgate_ratelimit_fallback_total\{source="insurance"\} (\d+)/.exec(text)?.[1] ?? 0);
}

async function run(command: RunCommand): Promise<RunReport> {
  const limits = compileRateLimits([command.rule]);
  let n = 0;
  const facts = () => ({
    sourceIp: "10.0.0.1",
    method: "GET",
    path: "/",
    headers: { "x-user": command.distinct === true ? `${command.user}-${n++}` : command.user },
    query: "",
  });
  const before = await insurance();
  const waits: number[] = [];
  const policies = new Set<string>();
  const limitValues = new Set<number>();
  let allowed = 0;
  let denied = 0;
  const note = (verdict: RateLimitVerdict | undefined, startedAt: number): void => {
    waits.push(performance.now() - startedAt);
    if (verdict === undefined) throw new Error("no rule matched");
    policies.add(verdict.allowed ? verdict.quota.policy : (verdict.headers["ratelimit-policy"] ?? ""));
    const value = verdict.allowed ? verdict.quota.value : (verdict.headers["ratelimit"] ?? "");
    limitValues.add(Number(/^limit=(\d+),/.exec(value)?.[1]));
    if (verdict.allowed) allowed++;
    else denied++;
  };
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const startedAt = performance.now();
      const now = rateLimits.check(limits, facts(), (later) => {
        note(later, startedAt);
        resolve();
      });
      if (now !== PENDING) {
        note(now, startedAt);
        resolve();
      }
    });
  const started = performance.now();
  for (let asked = 0; asked < command.requests; ) {
    const turn: Promise<void>[] = [];
    for (let i = 0; i < command.burst && asked < command.requests; i++, asked++) turn.push(one());
    await Promise.all(turn);
  }
  const elapsedMs = performance.now() - started;
  waits.sort((a, b) => a - b);
  return {
    id: command.id,
    allowed,
    denied,
    policies: [...policies],
    limits: [...limitValues],
    insurance: (await insurance()) - before,
    maxWaitMs: waits[waits.length - 1] ?? 0,
    medianWaitMs: waits[Math.floor(waits.length / 2)] ?? 0,
    elapsedMs,
  };
}

port.on("message", (command: RunCommand) => {
  void run(command).then((report) => port.postMessage(report));
});
