// Local limits shared by real worker threads: each runs a RateLimits (local-shares-worker.ts)
// whose Local limits are counted by one LocalLedger on this thread, reached through a real
// MessagePort per worker, as the thread host wires it (lease-link.ts). The workers run at once,
// on both cores, so their asks interleave as the scheduler decides.
import test from "ava";
import { MessageChannel, Worker } from "node:worker_threads";
import { answerLeaseRequest, isLeaseRequest } from "../../../gateway/ratelimit/lease-link.js";
import { LOCAL_SHARES_RETRY_MS, LocalLedger } from "../../../gateway/ratelimit/local-shares.js";
import type { RateLimitConfig } from "../../../gateway/snapshot.js";
import type { RunCommand, RunReport, WorkerSetup } from "./local-shares-worker.js";

interface Pool {
  /** Every worker runs the command at once; their reports in worker order. */
  runAll(command: Omit<RunCommand, "id">): Promise<RunReport[]>;
  /** Lease messages the ledger has answered, and the asks in them. */
  readonly stats: { messages: number; asks: number };
  /** While false, the supervisor reads lease requests and never answers them. */
  answering: boolean;
  close(): Promise<void>;
}

function startPool(workers: number, timeoutMs: number): Pool {
  const ledger = new LocalLedger();
  let nextId = 1;
  const waiting = new Map<number, (report: RunReport) => void>();
  const threads: Worker[] = [];
  const pool: Pool = {
    stats: { messages: 0, asks: 0 },
    answering: true,
    async runAll(command) {
      return Promise.all(
        threads.map((thread) => {
          const id = nextId++;
          return new Promise<RunReport>((resolve) => {
            waiting.set(id, resolve);
            thread.postMessage({ ...command, id } satisfies RunCommand);
          });
        }),
      );
    },
    async close() {
      await Promise.all(threads.map((w) => w.terminate()));
    },
  };
  for (let i = 0; i < workers; i++) {
    const { port1, port2 } = new MessageChannel();
    port1.on("message", (message: unknown) => {
      if (!pool.answering) return;
      if (isLeaseRequest(message)) {
        pool.stats.messages++;
        pool.stats.asks += message.asks.length;
      }
      const reply = answerLeaseRequest(ledger, message);
      if (reply !== undefined) port1.postMessage(reply);
    });
    port1.unref();
    const setup: WorkerSetup = { lease: port2, workers, timeoutMs };
    const thread = new Worker(new URL("./local-shares-worker.js", import.meta.url), { workerData: setup, transferList: [port2] });
    thread.on("message", (report: RunReport) => {
      const resolve = waiting.get(report.id);
      waiting.delete(report.id);
      resolve?.(report);
    });
    thread.on("error", (error) => {
      throw error;
    });
    threads.push(thread);
  }
  return pool;
}

function rule(id: string, requests: number, unit: RateLimitConfig["limit"]["unit"]): RateLimitConfig {
  return {
    policy: "default/local",
    bucket: "default/local",
    id,
    selectors: [{ kind: "Header", name: "x-user", type: "Distinct" }],
    limit: { requests, unit },
    type: "Local",
  };
}

const sum = (reports: RunReport[], field: "allowed" | "denied" | "insurance"): number => reports.reduce((n, r) => n + r[field], 0);
const ms = (n: number): string => n.toFixed(2);

test("4 worker threads: a Local limit of 3 a minute admits 3 and one of 10 admits 10, headers state the limit", async (t) => {
  const pool = startPool(4, 5000);
  t.teardown(() => pool.close());
  for (const limit of [3, 10]) {
    const reports = await pool.runAll({ rule: rule(`r${limit}`, limit, "Minute"), user: "a", requests: 30, burst: 3 });
    t.log(`limit ${limit}/min on 4 threads: allowed per thread ${reports.map((r) => r.allowed).join(", ")}; headers ${JSON.stringify(reports[0]?.policies)}`);
    t.is(sum(reports, "allowed"), limit);
    t.is(sum(reports, "denied"), 4 * 30 - limit);
    t.is(sum(reports, "insurance"), 0);
    for (const r of reports) {
      t.deepEqual(r.policies, [`${limit};w=60`]);
      t.deepEqual(r.limits, [limit]);
    }
  }
});

test("figures: round trips and waits per request for a busy key on 2 worker threads", async (t) => {
  const pool = startPool(2, 5000);
  t.teardown(() => pool.close());
  const lines: string[] = [];
  for (const [limit, unit, burst] of [
    [10, "Minute", 16],
    [100_000, "Second", 16],
    [100_000, "Second", 1],
  ] as const) {
    const before = { ...pool.stats };
    const requests = 20_000;
    const reports = await pool.runAll({ rule: rule(`busy-${limit}-${burst}`, limit, unit), user: "busy", requests, burst });
    const messages = pool.stats.messages - before.messages;
    const total = requests * reports.length;
    const allowed = sum(reports, "allowed");
    lines.push(
      `${limit}/${unit}, 2 threads, ${total} requests in bursts of ${burst}: ${allowed} allowed, ${messages} round trips, ` +
        `${(messages / total).toFixed(4)} per request; wait per check median ${reports.map((r) => ms(r.medianWaitMs)).join("/")} ms, ` +
        `max ${reports.map((r) => ms(r.maxWaitMs)).join("/")} ms; ${reports.map((r) => Math.round(total / reports.length / (r.elapsedMs / 1000))).join("/")} checks/s per thread`,
    );
    if (limit === 10) {
      t.is(allowed, 10);
      // Each round trip admits a request or leaves its thread denying from memory for the window.
      t.true(messages <= 10 + 2, `${messages}`);
    } else {
      t.is(allowed, total);
      t.true(messages <= total / 4, `${messages}`);
    }
    t.is(sum(reports, "insurance"), 0);
  }
  // The cost of a round trip: every request is its key's first (a Distinct rule's new clients).
  for (const burst of [1, 16]) {
    const before = pool.stats.messages;
    const requests = 5_000;
    const reports = await pool.runAll({ rule: rule(`quiet-${burst}`, 10, "Minute"), user: `new-${burst}`, requests, burst, distinct: true });
    const messages = pool.stats.messages - before;
    const total = requests * reports.length;
    lines.push(
      `10/Minute, a new key per request, 2 threads, ${total} requests in bursts of ${burst}: ${sum(reports, "allowed")} allowed, ` +
        `${messages} round trips, ${(messages / total).toFixed(4)} per request; wait per check median ${reports.map((r) => ms(r.medianWaitMs)).join("/")} ms`,
    );
    t.is(sum(reports, "allowed"), total);
    // One round trip per turn carries every key of the turn.
    t.true(messages <= total / burst + 2, `${messages}`);
  }
  for (const line of lines) t.log(line);
});

test("a supervisor that stops answering: each thread answers within the timeout from its share, then counts with the ledger again", async (t) => {
  const timeoutMs = 200;
  const pool = startPool(2, timeoutMs);
  t.teardown(() => pool.close());
  pool.answering = false;
  const gone = await pool.runAll({ rule: rule("r", 10, "Minute"), user: "a", requests: 8, burst: 8 });
  t.log(`supervisor silent: allowed per thread ${gone.map((r) => r.allowed).join(", ")}, slowest answer ${gone.map((r) => ms(r.maxWaitMs)).join("/")} ms`);
  // limit / workers each: never unlimited, never waiting past the timeout (generous bound for a loaded machine).
  t.deepEqual(
    gone.map((r) => r.allowed),
    [5, 5],
  );
  t.is(sum(gone, "insurance"), 16);
  for (const r of gone) {
    t.true(r.maxWaitMs >= timeoutMs * 0.9 && r.maxWaitMs < 5000, `${r.maxWaitMs}`);
    t.deepEqual(r.limits, [10]);
  }
  // Meanwhile answered at once from the share.
  const meanwhile = await pool.runAll({ rule: rule("r", 10, "Minute"), user: "b", requests: 4, burst: 4 });
  for (const r of meanwhile) t.true(r.maxWaitMs < timeoutMs, `${r.maxWaitMs}`);
  pool.answering = true;
  // The probe finds the supervisor again within a retry period (generous bound).
  await new Promise((resolve) => setTimeout(resolve, LOCAL_SHARES_RETRY_MS * 3));
  const back = await pool.runAll({ rule: rule("r", 10, "Minute"), user: "c", requests: 8, burst: 8 });
  t.is(sum(back, "allowed"), 10);
  t.is(sum(back, "insurance"), 0);
});
