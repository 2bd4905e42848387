// Exceptions contained: a bug met while handling one request ends that request, not the process.
// uWS aborts the process when a request handler returns without answering or attaching onAborted,
// and an exception thrown from any uWS or socket callback is uncaught; so every way into request
// handling (the handlers, their callbacks, timers, upstream events) catches, and hands the
// request here to be answered 500 (or reset once its head is out) and ended exactly once.
import type { HttpResponse } from "../uws.js";
import type { RequestContext, RequestEnvironment } from "./context.js";

/** Where an internal error was met: the label of meshgate_internal_errors_total. */
export type InternalErrorSite = "request" | "upgrade" | "upstream" | "websocket" | "rate-limit";

/** What still runs for a request (an upstream try, a WebSocket handshake): stopped without touching the response. */
export interface Abandonable {
  abandon(): void;
}

/**
 * Test-only fault injection: a test sets `hook` to make request handling throw at a named stage.
 * Nothing in a configuration or a request can reach it; unset (always, outside tests) a fault
 * point costs one property read.
 */
export type FaultStage = "admit" | "dispatch" | "response-head" | "response-body" | "upgrade-open" | "websocket-message";
export const faultInjection: { hook: ((stage: FaultStage) => void) | undefined } = { hook: undefined };

export function faultPoint(stage: FaultStage): void {
  const hook = faultInjection.hook;
  if (hook !== undefined) hook(stage);
}

const INTERNAL_ERROR = "500 Internal Server Error";

/**
 * Ends a request whose handling threw: counts and logs `err`, stops what still runs for it,
 * answers 500 (closing the connection, whose state is unknown) when no byte of the response was
 * written, resets the connection when some were, and ends its bookkeeping (once: done() is
 * idempotent). `ctx` is undefined when the request threw before its context existed. Safe on a
 * response already ended or aborted: uWS throws on those, and the throw is caught here.
 */
export function containRequestError(
  site: InternalErrorSite,
  err: unknown,
  res: HttpResponse,
  ctx: RequestContext | undefined,
  env: RequestEnvironment,
): void {
  env.internalError(site, err);
  try {
    ctx?.owner?.abandon();
  } catch (again) {
    env.internalError(site, again);
  }
  if (ctx === undefined || !ctx.headStarted) answer500(res, ctx);
  else closeQuietly(res);
  if (ctx !== undefined) ctx.done(500, "", "", 0);
  else env.requestEnded();
}

function answer500(res: HttpResponse, ctx: RequestContext | undefined): void {
  if (ctx !== undefined) ctx.headStarted = true;
  try {
    res.cork(() => {
      res.writeStatus(INTERNAL_ERROR);
      res.writeHeader("content-type", "text/plain; charset=utf-8");
      if (ctx !== undefined) {
        res.writeHeader("x-request-id", ctx.requestId);
        ctx.resumeClient(res);
      }
      if (ctx?.method === "HEAD") {
        res.writeHeader("connection", "close");
        res.endWithoutBody();
      } else {
        res.end("internal error\n", true);
      }
    });
  } catch {
    closeQuietly(res);
  }
}

/** Resets the client's connection, if uWS still has it. */
export function closeQuietly(res: HttpResponse): void {
  try {
    res.close();
  } catch {
    // Already answered or aborted: nothing is left to close.
  }
}
