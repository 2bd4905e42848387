// A request on a rate-limited route waits for the limiters' decision (Redis may be asked). uWS
// allows one onAborted and needs onData attached before the handler returns: both are attached
// here, and hand over to the Exchange once the request may pass. Body chunks arriving meanwhile
// are copied (uWS reuses their memory after the callback).
import { type ActionRateLimit, PENDING, type RateLimitVerdict } from "../ratelimit/runtime.js";
import type { HttpResponse } from "../uws.js";
import type { RequestContext } from "./context.js";
import { containRequestError } from "./contain.js";
import { hasRequestBody } from "./request-checks.js";

/**
 * Body bytes kept while a request waits; past this the client's socket is paused until the
 * request goes on, so a client streaming a large body into a long wait (an injected delay)
 * cannot grow memory without bound. As much as ClientBody buffers before pausing.
 */
export const HELD_BODY_BYTES = 256 * 1024;

export class HeldRequest {
  aborted = false;
  onAborted: (() => void) | undefined;
  private chunks: { chunk: ArrayBuffer; isLast: boolean }[] = [];
  private bytes = 0;
  private paused = false;
  private sink: ((chunk: ArrayBuffer, isLast: boolean) => void) | undefined;

  constructor(private readonly res?: HttpResponse) {}

  hold(chunk: ArrayBuffer, isLast: boolean): void {
    if (this.sink !== undefined) {
      this.sink(chunk, isLast);
      return;
    }
    this.chunks.push({ chunk: chunk.slice(0), isLast });
    this.bytes += chunk.byteLength;
    if (!isLast && this.bytes >= HELD_BODY_BYTES && !this.paused && this.res !== undefined && !this.aborted) {
      this.paused = true;
      this.res.pause();
    }
  }

  release(sink: (chunk: ArrayBuffer, isLast: boolean) => void): void {
    for (const c of this.chunks) sink(c.chunk, c.isLast);
    this.chunks = [];
    this.bytes = 0;
    this.sink = sink;
    // The sink (ClientBody) pauses the client again if the upstream cannot take more yet.
    if (this.paused && !this.aborted) {
      this.paused = false;
      this.res?.resume();
    }
  }
}

/**
 * Asks the limiters, then answers 429 or calls `serve`; an allowed answer carries the quota
 * (RateLimit-Policy, RateLimit) in its response head. When every limiter decides at once (a
 * Local limit always does; a Global one with a leased slot or a used-up bucket does) the request
 * is served from the handler like an unlimited one; otherwise it is held for the decision.
 */
export function limitThenServe(
  res: HttpResponse,
  ctx: RequestContext,
  limits: readonly ActionRateLimit[],
  serve: (held: HeldRequest | undefined) => void,
): void {
  // Assigned once check() has said PENDING, and read only by its later callback.
  // eslint-disable-next-line prefer-const
  let held: HeldRequest | undefined;
  const facts = { sourceIp: ctx.sourceIp, method: ctx.method, path: ctx.routePath, headers: ctx.headers, query: ctx.query };
  const verdict = ctx.env.rateLimits.check(limits, facts, (later) => {
    // Called only after this function returned PENDING below, so `held` is set.
    const h = held as HeldRequest;
    if (h.aborted) return;
    try {
      answer(res, ctx, later, h, serve);
    } catch (err) {
      // A bug past this point must not take down the other requests decided with this one.
      containRequestError("rate-limit", err, res, ctx, ctx.env);
    }
  });
  if (verdict !== PENDING) {
    answer(res, ctx, verdict, undefined, serve);
    return;
  }
  held = holdRequest(res, ctx, hasRequestBody(ctx.headers));
}

/**
 * Takes over the request's onAborted and onData from the handler (which must still be running) so
 * that it can wait: for a rate limit's decision, or an injected delay. `hasBody` is decided by the
 * caller: once hop-by-hop headers are stripped, Transfer-Encoding no longer tells.
 */
export function holdRequest(res: HttpResponse, ctx: RequestContext, hasBody: boolean): HeldRequest {
  const h = new HeldRequest(res);
  res.onAborted(() => {
    h.aborted = true;
    if (h.onAborted !== undefined) h.onAborted();
    else ctx.done(499, "", "", 0);
  });
  if (hasBody)
    res.onData((chunk, isLast) => {
      try {
        h.hold(chunk, isLast);
      } catch (err) {
        containRequestError("request", err, res, ctx, ctx.env);
      }
    });
  else ctx.pauseClient(res);
  return h;
}

function answer(
  res: HttpResponse,
  ctx: RequestContext,
  verdict: RateLimitVerdict | undefined,
  held: HeldRequest | undefined,
  serve: (held: HeldRequest | undefined) => void,
): void {
  if (verdict !== undefined && !verdict.allowed) {
    ctx.localReply(res, 429, "too many requests\n", undefined, undefined, verdict.headers);
    ctx.done(429, "", "", 0);
    return;
  }
  if (verdict !== undefined) ctx.quota = verdict.quota;
  serve(held);
}
