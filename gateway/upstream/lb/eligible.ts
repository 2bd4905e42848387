// The rules every balancer shares about which endpoints a pick may return:
//  1. an endpoint that is neither ejected nor `exclude` (the one a retry just failed on);
//  2. failing that, `exclude` itself when it is the only admitted endpoint: a healthy endpoint
//     that failed once is a better bet than an ejected one;
//  3. failing that (every endpoint ejected), panic mode as Envoy's: ejection is ignored, since
//     spreading load over all endpoints beats failing every request; `exclude` is still avoided
//     when another endpoint exists.
// Balancers try rule 1 on their fast path and call slowPathMode only when it found nothing.
import type { EndpointState } from "../endpoint-state.js";

export function admitted(ep: EndpointState, now: number): boolean {
  return ep.ejectedUntil <= now;
}

/** Whether a pick may return `ep`, in normal or panic mode, `exclude` never. */
export function admits(
  ep: EndpointState,
  now: number,
  exclude: EndpointState | undefined,
  panic: boolean,
): boolean {
  return ep !== exclude && (panic || ep.ejectedUntil <= now);
}

export type SlowPathMode = "normal" | "only-excluded" | "panic";

/** Which rule applies, in one pass over the endpoints. */
export function slowPathMode(
  endpoints: readonly EndpointState[],
  now: number,
  exclude: EndpointState | undefined,
): SlowPathMode {
  let excludeAdmitted = false;
  for (const ep of endpoints) {
    if (ep.ejectedUntil > now) continue;
    if (ep !== exclude) return "normal";
    excludeAdmitted = true;
  }
  return excludeAdmitted ? "only-excluded" : "panic";
}
