// Retry policy: what may be retried, how long to wait, and how many retries may run at once.
import test from "ava";
import { type RetryConfig, retrySchema } from "../../../gateway/snapshot.js";
import {
  backoffMs,
  clusterRetryPolicy,
  policyRetries,
  RetryBudget,
  type RetryOutcome,
  retriesMethod,
  retryable,
  retryDelayMs,
  ruleBackoffMs,
  ruleRetryPolicy,
} from "../../../gateway/upstream/retry-budget.js";

const METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE", "POST", "PATCH", "CONNECT", "get"];
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);
const OUTCOMES: [string, RetryOutcome][] = [
  ["connect-failure", { kind: "connect-failure" }],
  ["reset", { kind: "reset" }],
  ["503", { kind: "status", status: 503 }],
  ["502", { kind: "status", status: 502 }],
  ["500", { kind: "status", status: 500 }],
  ["status without code", { kind: "status" }],
];

test("truth table: idempotent methods, enabled triggers, listed status codes", (t) => {
  const configs: [string, RetryConfig][] = [
    ["all triggers, 502/503", retrySchema.parse({ statusCodes: [502, 503] })],
    ["connect-failure only", retrySchema.parse({ on: ["connect-failure"], statusCodes: [502, 503] })],
    ["no triggers", retrySchema.parse({ on: [], statusCodes: [502, 503] })],
  ];
  const expected = (cfgName: string, method: string, outcome: string): boolean => {
    if (!IDEMPOTENT.has(method)) return false;
    if (cfgName === "no triggers") return false;
    if (cfgName === "connect-failure only") return outcome === "connect-failure";
    return outcome === "connect-failure" || outcome === "reset" || outcome === "502" || outcome === "503";
  };
  for (const [cfgName, cfg] of configs)
    for (const method of METHODS)
      for (const [outcomeName, outcome] of OUTCOMES)
        t.is(
          retryable(method, outcome, cfg),
          expected(cfgName, method, outcomeName),
          `${cfgName} ${method} ${outcomeName}`,
        );
});

test("status codes are retried only when retriable-status-codes is enabled", (t) => {
  const cfg = retrySchema.parse({ on: ["connect-failure", "reset"], statusCodes: [503] });
  t.false(retryable("GET", { kind: "status", status: 503 }, cfg));
});

test("back-off is full jitter under base * 2^attempt, capped", (t) => {
  const cfg = retrySchema.parse({ backoffBaseMs: 25, backoffMaxMs: 250 });
  t.is(backoffMs(0, cfg, 0), 0);
  t.is(backoffMs(0, cfg, 0.999), 24);
  t.is(backoffMs(1, cfg, 0.999), 49);
  t.is(backoffMs(2, cfg, 0.5), 50);
  t.is(backoffMs(3, cfg, 0.999), 199);
  t.is(backoffMs(4, cfg, 0.999), 249, "capped at backoffMaxMs");
  t.is(backoffMs(2000, cfg, 0.999), 249, "no overflow for absurd attempts");
  for (let i = 0; i < 1000; i++) {
    const wait = backoffMs(i % 6, cfg);
    t.true(wait >= 0 && wait < Math.min(25 * 2 ** (i % 6), 250), `${wait}`);
  }
});

test("the budget always allows minRetryConcurrency retries at once", (t) => {
  const budget = new RetryBudget(retrySchema.parse({ budgetPercent: 20, minRetryConcurrency: 3 }));
  t.true(budget.tryAcquire(0));
  t.true(budget.tryAcquire(0));
  t.true(budget.tryAcquire(0));
  t.false(budget.tryAcquire(0));
  t.is(budget.active, 3);
  budget.release();
  t.true(budget.tryAcquire(0));
});

test("above the floor, retries in flight stay under budgetPercent of active requests", (t) => {
  const budget = new RetryBudget(retrySchema.parse({ budgetPercent: 20, minRetryConcurrency: 1 }));
  let granted = 0;
  while (budget.tryAcquire(100)) granted++;
  t.is(granted, 20);
  // 20% of 12 is 2.4: a third retry would exceed it.
  const small = new RetryBudget(retrySchema.parse({ budgetPercent: 20, minRetryConcurrency: 0 }));
  t.true(small.tryAcquire(12));
  t.true(small.tryAcquire(12));
  t.false(small.tryAcquire(12));
});

test("release never drives the count below zero, and new limits apply to later retries", (t) => {
  const budget = new RetryBudget(retrySchema.parse({ budgetPercent: 0, minRetryConcurrency: 1 }));
  budget.release();
  t.is(budget.active, 0);
  t.true(budget.tryAcquire(10));
  budget.update(retrySchema.parse({ budgetPercent: 0, minRetryConcurrency: 2 }));
  t.is(budget.active, 1);
  t.true(budget.tryAcquire(10));
  t.false(budget.tryAcquire(10));
});

test("a rule's policy: listed codes and every connection error, for any method; the cluster's keeps idempotent methods", (t) => {
  const rule = ruleRetryPolicy({ codes: [500, 502], attempts: 2 });
  const cluster = clusterRetryPolicy(retrySchema.parse({}));
  for (const method of METHODS) {
    for (const [name, outcome] of OUTCOMES) {
      const ruleWants = name === "connect-failure" || name === "reset" || name === "500" || name === "502";
      t.is(policyRetries(rule, method, outcome), ruleWants, `rule ${method} ${name}`);
      const clusterWants = IDEMPOTENT.has(method) && (name === "connect-failure" || name === "reset" || name === "503");
      t.is(policyRetries(cluster, method, outcome), clusterWants, `cluster ${method} ${name}`);
    }
    t.true(retriesMethod(rule, method), `a rule retries ${method}`);
    t.is(retriesMethod(cluster, method), IDEMPOTENT.has(method), `the cluster retries ${method}`);
  }
  t.false(retriesMethod(ruleRetryPolicy({ codes: [500], attempts: 0 }), "GET"), "attempts 0 keeps no body");
});

test("a rule's back-off: never below its minimum, the first retry exactly at it, growing to at most 10x", (t) => {
  t.is(ruleBackoffMs(0, 100, 0.999), 100);
  t.is(ruleBackoffMs(1, 100, 0), 100);
  t.is(ruleBackoffMs(1, 100, 0.999), 199);
  t.is(ruleBackoffMs(3, 100, 0.999), 799);
  t.is(ruleBackoffMs(4, 100, 0.999), 999, "capped at 10x the minimum");
  t.is(ruleBackoffMs(60, 100, 0.999), 999, "no overflow for absurd attempts");
  t.is(ruleBackoffMs(5, 0, 0.999), 0, "backoff 0s: no wait");
  t.is(ruleBackoffMs(3, 2 ** 31 - 1, 0.999), 2 ** 31 - 1, "never past the longest timer");
  for (let i = 0; i < 1000; i++) {
    const attempt = i % 8;
    const wait = ruleBackoffMs(attempt, 40);
    t.true(wait >= 40 && wait <= Math.min(40 * 2 ** attempt, 400), `${wait} for retry ${attempt}`);
  }
  const cfg = retrySchema.parse({ backoffBaseMs: 25, backoffMaxMs: 250 });
  t.true(retryDelayMs(3, ruleRetryPolicy({ codes: [], attempts: 3 }), cfg) < 250, "no backoff: the cluster's curve");
  t.is(retryDelayMs(0, ruleRetryPolicy({ codes: [], attempts: 3, backoffMs: 70 }), cfg), 70);
});
