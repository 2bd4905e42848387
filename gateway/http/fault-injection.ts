// BackendTrafficPolicy faultInjection in the request path, the last step before a request goes
// upstream (after routing, CORS, rate limits and the route's filters). One draw decides a delay,
// one an abort; as in Envoy's fault filter, a request drawn for both waits first, then is aborted.
// The delay runs before the Exchange exists, so timeouts.request (which the Exchange starts) does
// not include it, as Envoy's route timeout does not include its fault delay.
import { type CompiledFault, drawFault } from "../routing/fault.js";
import type { HttpResponse } from "../uws.js";
import type { Admitted, Dispatch, Forwarded } from "./handler.js";
import { type HeldRequest, holdRequest } from "./held-request.js";
import { containRequestError } from "./contain.js";

export function injectFault(
  res: HttpResponse,
  a: Admitted,
  f: Forwarded,
  held: HeldRequest | undefined,
  dispatch: Dispatch,
  fault: CompiledFault,
): void {
  const { delayMs, abortStatus } = drawFault(fault);
  if (delayMs === 0) {
    if (abortStatus === 0) dispatch(res, a, f, held);
    else abort(res, a, abortStatus);
    return;
  }
  const { ctx } = a;
  ctx.env.metrics.faultInjected(ctx.route, "delay");
  // Called from the handler (held undefined) or from a rate limit's later decision (held set):
  // either way the request is held, its body kept, while the timer runs.
  const h = held ?? holdRequest(res, ctx, f.hasBody);
  const timer = setTimeout(() => {
    if (h.aborted) return;
    h.onAborted = undefined;
    try {
      if (abortStatus === 0) dispatch(res, a, f, h);
      else abort(res, a, abortStatus);
    } catch (err) {
      containRequestError("request", err, res, ctx, ctx.env);
    }
  }, delayMs);
  // A client that leaves during the delay: the timer goes, the request is counted as 499.
  h.onAborted = () => {
    clearTimeout(timer);
    ctx.done(499, "", "", 0);
  };
}

/** The abort's answer is the gateway's own: no backend sees the request. */
function abort(res: HttpResponse, a: Admitted, status: number): void {
  const { ctx } = a;
  ctx.env.metrics.faultInjected(ctx.route, "abort");
  ctx.localReply(res, status, status === 204 || status === 304 ? "" : "fault filter abort\n");
  ctx.done(status, "", "", 0);
}
