// Passive outlier detection (Envoy's consecutive-5xx kind): eject an endpoint after N failures
// in a row, for longer each time it happens again, and never more than the configured share.
//
// Share rule: an ejection is refused when it would take the ejected share above
// maxEjectionPercent, except that the first ejection is always allowed, as in Envoy. A
// one-endpoint cluster can therefore be ejected; balancers then run in panic mode and keep
// sending to it, and the ejection still shows in metrics and grows its back-off.
//
// Back-off: ejection n lasts baseEjectionMs * n, at most maxEjectionMs. Each full
// maxEjectionMs an endpoint stays admitted after its last ejection takes one step off n (as
// Envoy decrements its multiplier while a host is healthy), so one bad hour does not make
// every later ejection the longest.
import type { OutlierConfig } from "../snapshot.js";
import type { EndpointState } from "./endpoint-state.js";

export class OutlierDetector {
  constructor(
    private readonly cfg: OutlierConfig,
    private readonly endpoints: () => readonly EndpointState[],
  ) {}

  success(ep: EndpointState): void {
    ep.consecutiveFailures = 0;
  }

  /** Counts a failure; true when this call ejected the endpoint. */
  failure(ep: EndpointState, now: number): boolean {
    const threshold = this.cfg.consecutiveFailures;
    // Failures of requests sent before an ejection say nothing new about the endpoint.
    if (threshold === 0 || this.isEjected(ep, now)) return false;
    ep.consecutiveFailures++;
    if (ep.consecutiveFailures < threshold || !this.mayEject(now)) return false;
    const ejections = Math.max(0, ep.ejections - this.healthyCredit(ep, now)) + 1;
    const duration = Math.min(this.cfg.baseEjectionMs * ejections, this.cfg.maxEjectionMs);
    if (duration <= 0) return false;
    ep.ejections = ejections;
    ep.ejectedUntil = now + duration;
    ep.consecutiveFailures = 0;
    return true;
  }

  /** True while ejected; once the ejection has run out, re-admits the endpoint with a clean count. */
  isEjected(ep: EndpointState, now: number): boolean {
    if (ep.ejectedUntil === 0) return false;
    if (ep.ejectedUntil > now) return true;
    ep.readmittedAt = ep.ejectedUntil;
    ep.ejectedUntil = 0;
    ep.consecutiveFailures = 0;
    return false;
  }

  private mayEject(now: number): boolean {
    const all = this.endpoints();
    let ejected = 0;
    for (const ep of all) if (ep.ejectedUntil > now) ejected++;
    return ejected === 0 || (ejected + 1) * 100 <= all.length * this.cfg.maxEjectionPercent;
  }

  private healthyCredit(ep: EndpointState, now: number): number {
    if (ep.ejections === 0 || this.cfg.maxEjectionMs <= 0) return 0;
    return Math.floor((now - ep.readmittedAt) / this.cfg.maxEjectionMs);
  }
}
