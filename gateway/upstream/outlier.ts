// Passive outlier detection: eject an endpoint after consecutive failures, re-admit it after a
// back-off that grows with each ejection, and never eject more than the configured share.
import type { OutlierConfig } from "../snapshot.js";
import type { EndpointState } from "./endpoint-state.js";

export class OutlierDetector {
  constructor(
    private cfg: OutlierConfig,
    private readonly endpoints: () => readonly EndpointState[],
  ) {}

  success(ep: EndpointState): void {
    ep.consecutiveFailures = 0;
  }

  /** Counts a failure; returns true when this call ejected the endpoint. */
  failure(ep: EndpointState, now: number): boolean {
    if (this.cfg.consecutiveFailures === 0) return false;
    ep.consecutiveFailures++;
    if (ep.consecutiveFailures < this.cfg.consecutiveFailures || this.isEjected(ep, now)) return false;
    const all = this.endpoints();
    let ejected = 0;
    for (const other of all) if (this.isEjected(other, now)) ejected++;
    // As Envoy: ejection is allowed while the ejected share stays within the maximum, and one
    // endpoint may always be ejected when there are several.
    const max = Math.max(
      all.length > 1 ? 1 : 0,
      Math.floor((all.length * this.cfg.maxEjectionPercent) / 100),
    );
    if (ejected >= max) return false;
    ep.ejections++;
    ep.ejectedUntil = now + Math.min(this.cfg.baseEjectionMs * ep.ejections, this.cfg.maxEjectionMs);
    ep.consecutiveFailures = 0;
    return true;
  }

  /** Re-admits an endpoint whose ejection has run out. */
  isEjected(ep: EndpointState, now: number): boolean {
    if (ep.ejectedUntil === 0) return false;
    if (ep.ejectedUntil > now) return true;
    ep.ejectedUntil = 0;
    ep.consecutiveFailures = 0;
    return false;
  }

  update(cfg: OutlierConfig): void {
    this.cfg = cfg;
  }
}
