// Per-cluster request limits (Envoy's circuit breaker thresholds). Counters survive Snapshots.
import type { CircuitBreakerConfig } from "../snapshot.js";

export class CircuitBreaker {
  active = 0;
  constructor(private cfg: CircuitBreakerConfig) {}

  tryStartRequest(): "ok" | "max-requests" {
    if (this.active >= this.cfg.maxRequests) return "max-requests";
    this.active++;
    return "ok";
  }

  endRequest(): void {
    if (this.active > 0) this.active--;
  }

  update(cfg: CircuitBreakerConfig): void {
    this.cfg = cfg;
  }
}
