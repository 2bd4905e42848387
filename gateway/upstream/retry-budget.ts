// Retry policy: which failures may be retried, how long to wait, and Envoy's retry budget that
// stops retries from multiplying load on a struggling cluster.
import type { RetryConfig } from "../snapshot.js";

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

export class RetryBudget {
  private activeRetries = 0;
  constructor(private cfg: RetryConfig) {}

  /** True when a retry may start: retries in flight stay within budgetPercent of requests. */
  tryAcquire(activeRequests: number): boolean {
    const allowed = Math.max(
      this.cfg.minRetryConcurrency,
      Math.floor((activeRequests * this.cfg.budgetPercent) / 100),
    );
    if (this.activeRetries >= allowed) return false;
    this.activeRetries++;
    return true;
  }

  release(): void {
    if (this.activeRetries > 0) this.activeRetries--;
  }

  get active(): number {
    return this.activeRetries;
  }

  update(cfg: RetryConfig): void {
    this.cfg = cfg;
  }
}

export type RetryOutcome = { kind: "connect-failure" | "reset" } | { kind: "status"; status: number };

export function retryable(method: string, outcome: RetryOutcome, cfg: RetryConfig): boolean {
  if (!IDEMPOTENT.has(method)) return false;
  switch (outcome.kind) {
    case "connect-failure":
      return cfg.on.includes("connect-failure");
    case "reset":
      return cfg.on.includes("reset");
    case "status":
      return cfg.on.includes("retriable-status-codes") && cfg.statusCodes.includes(outcome.status);
  }
}

/** Full-jitter exponential back-off: a random wait up to base * 2^attempt, capped. */
export function backoffMs(attempt: number, cfg: RetryConfig, random = Math.random()): number {
  const ceiling = Math.min(cfg.backoffBaseMs * 2 ** attempt, cfg.backoffMaxMs);
  return Math.floor(random * ceiling);
}
