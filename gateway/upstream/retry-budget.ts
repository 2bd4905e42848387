// Retry policy: which failures may be retried, how long to wait, and Envoy's retry budget,
// which stops retries from multiplying the load on a cluster that is already struggling.
import type { RetryConfig } from "../snapshot.js";

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
 * Whether the failed attempt may be tried again: only for idempotent methods (even a
 * connection failure: whether the request body can be replayed is the caller's concern, and
 * a POST is never sent twice by the gateway), and only for the triggers the cluster enables.
 */
export function retryable(method: string, outcome: RetryOutcome, cfg: RetryConfig): boolean {
  if (!IDEMPOTENT.has(method)) return false;
  switch (outcome.kind) {
    case "connect-failure":
      return cfg.on.includes("connect-failure");
    case "reset":
      return cfg.on.includes("reset");
    case "status":
      return (
        outcome.status !== undefined &&
        cfg.on.includes("retriable-status-codes") &&
        cfg.statusCodes.includes(outcome.status)
      );
  }
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
