// Retry policy: which failures may be retried, how long to wait, and Envoy's retry budget,
// which stops retries from multiplying the load on a cluster that is already struggling.
import { MAX_TIMER_MS, type RetryConfig, type RouteRetry } from "../snapshot.js";

/** RFC 9110 idempotent methods; method names are case-sensitive. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

export class RetryBudget {
  private retries = 0;

  constructor(private cfg: RetryConfig) {}

  /**
   * Takes a slot for a retry, or refuses: retries in flight stay below the larger of
   * minRetryConcurrency and budgetPercent of the cluster's active requests.
   */
  tryAcquire(activeRequests: number): boolean {
    const share = Math.floor((activeRequests * this.cfg.budgetPercent) / 100);
    const allowed = Math.max(this.cfg.minRetryConcurrency, share);
    if (this.retries >= allowed) return false;
    this.retries++;
    return true;
  }

  release(): void {
    if (this.retries > 0) this.retries--;
  }

  /** Retries in flight. */
  get active(): number {
    return this.retries;
  }

  /** A new Snapshot's limits; retries in flight stay counted. */
  update(cfg: RetryConfig): void {
    this.cfg = cfg;
  }
}

export interface RetryOutcome {
  kind: "connect-failure" | "reset" | "status";
  /** The response status, for kind "status". */
  status?: number;
}

/**
 * Who decides whether a failed attempt is tried again, compiled once per Snapshot: a rule's own
 * retry (HTTPRoute spec.rules[].retry) or, where the rule has none, its cluster's retry policy
 * (BackendTrafficPolicy retry, or the default).
 */
export interface RetryPolicy {
  /** For metrics: "rule" (the HTTPRoute rule's retry) or "cluster" (BackendTrafficPolicy or default). */
  readonly source: "rule" | "cluster";
  /** Retries after the first attempt. */
  readonly attempts: number;
  /** A rule's own retry retries any method; the cluster's only idempotent ones. */
  readonly anyMethod: boolean;
  readonly connectFailure: boolean;
  /** A reset before the response head, and a try that ran out of its own timeout. */
  readonly reset: boolean;
  readonly codes: ReadonlySet<number>;
  /** The least wait before a retry (a rule's backoff); undefined: the cluster's back-off curve. */
  readonly minBackoffMs: number | undefined;
}

const NO_CODES: ReadonlySet<number> = new Set();

/** The cluster's retry config as a policy: idempotent methods, the enabled triggers only. */
export function clusterRetryPolicy(cfg: RetryConfig): RetryPolicy {
  return {
    source: "cluster",
    attempts: cfg.attempts,
    anyMethod: false,
    connectFailure: cfg.on.includes("connect-failure"),
    reset: cfg.on.includes("reset"),
    codes: cfg.on.includes("retriable-status-codes") ? new Set(cfg.statusCodes) : NO_CODES,
    minBackoffMs: undefined,
  };
}

/**
 * A rule's retry (GEP-1731) as a policy: the listed codes plus connection errors (connect
 * failure, reset, a try's own timeout), for any method: the route's owner asked for it.
 */
export function ruleRetryPolicy(retry: RouteRetry): RetryPolicy {
  return {
    source: "rule",
    attempts: retry.attempts,
    anyMethod: true,
    connectFailure: true,
    reset: true,
    codes: new Set(retry.codes),
    minBackoffMs: retry.backoffMs,
  };
}

/** Whether `policy` retries this request's method at all (so a body is worth keeping). */
export function retriesMethod(policy: RetryPolicy, method: string): boolean {
  return policy.attempts > 0 && (policy.anyMethod || IDEMPOTENT.has(method));
}

/** Whether `policy` retries this failed attempt (attempt counts and budget aside). */
export function policyRetries(policy: RetryPolicy, method: string, outcome: RetryOutcome): boolean {
  if (!policy.anyMethod && !IDEMPOTENT.has(method)) return false;
  switch (outcome.kind) {
    case "connect-failure":
      return policy.connectFailure;
    case "reset":
      return policy.reset;
    case "status":
      return outcome.status !== undefined && policy.codes.has(outcome.status);
  }
}

/**
 * Whether the failed attempt may be tried again under a cluster's retry config: only for
 * idempotent methods, and only for the triggers the cluster enables.
 */
export function retryable(method: string, outcome: RetryOutcome, cfg: RetryConfig): boolean {
  return policyRetries(clusterRetryPolicy(cfg), method, outcome);
}

/**
 * Wait before retry `attempt` (0 for the first retry): full jitter over base * 2^attempt,
 * capped at backoffMaxMs, so clients that failed together do not come back together.
 * `random` is uniform in [0, 1).
 */
export function backoffMs(attempt: number, cfg: RetryConfig, random = Math.random()): number {
  const ceiling = Math.min(cfg.backoffBaseMs * 2 ** Math.max(0, attempt), cfg.backoffMaxMs);
  return Math.floor(random * ceiling);
}

/** A rule's back-off never grows past this many times its minimum. */
export const RULE_BACKOFF_GROWTH_CAP = 10;

/**
 * Wait before retry `attempt` (0 for the first) under a rule's minimum back-off: never less than
 * `minMs` (GEP-1731), the first retry exactly `minMs`, later ones jittered between `minMs` and
 * minMs * 2^attempt, capped at 10 * minMs (and at the longest delay a timer holds).
 */
export function ruleBackoffMs(attempt: number, minMs: number, random = Math.random()): number {
  const ceiling = Math.min(minMs * 2 ** Math.max(0, attempt), minMs * RULE_BACKOFF_GROWTH_CAP, MAX_TIMER_MS);
  return Math.min(MAX_TIMER_MS, minMs + Math.floor(random * Math.max(0, ceiling - minMs)));
}

/** The wait before retry `attempt` under `policy`, on the cluster `cfg`'s curve unless the rule sets a minimum. */
export function retryDelayMs(attempt: number, policy: RetryPolicy, cfg: RetryConfig): number {
  return policy.minBackoffMs === undefined ? backoffMs(attempt, cfg) : ruleBackoffMs(attempt, policy.minBackoffMs);
}
