// Per-cluster limits, Envoy's circuit breaker thresholds: requests in flight and requests
// waiting for a connection. Refusing fast at the limit protects the upstream and the gateway's
// memory. The object outlives Snapshots so in-flight requests keep being counted.
import type { CircuitBreakerConfig } from "../snapshot.js";

export class CircuitBreaker {
  /** Requests started and not yet ended. */
  active = 0;
  /** Requests queued for an upstream connection. */
  pending = 0;

  constructor(private cfg: CircuitBreakerConfig) {}

  tryStartRequest(): "ok" | "max-requests" {
    if (this.active >= this.cfg.maxRequests) return "max-requests";
    this.active++;
    return "ok";
  }

  endRequest(): void {
    if (this.active > 0) this.active--;
  }

  tryQueue(): "ok" | "max-pending" {
    if (this.pending >= this.cfg.maxPendingRequests) return "max-pending";
    this.pending++;
    return "ok";
  }

  /** A queued request left the queue (got a connection, or gave up). */
  dequeue(): void {
    if (this.pending > 0) this.pending--;
  }

  /** A new Snapshot's limits. Counters carry over: over a lowered limit, work is refused until they drain. */
  update(cfg: CircuitBreakerConfig): void {
    this.cfg = cfg;
  }
}
