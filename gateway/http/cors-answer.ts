// The CORS filter in the request path. A preflight (OPTIONS with Origin and
// Access-Control-Request-Method) is answered by the gateway and never reaches a backend: 200 with
// the CORS headers for an allowed origin, 403 without any for another. Any other request goes on,
// and its upstream response gains the headers its origin is due.
import type { CompiledCors } from "../routing/cors.js";
import type { HttpResponse } from "../uws.js";
import type { RequestContext } from "./context.js";

/** True when the request was a preflight and has been answered. */
export function corsFirst(res: HttpResponse, ctx: RequestContext, cors: CompiledCors): boolean {
  const headers = ctx.headers;
  const origin = headers["origin"];
  const requestMethod = headers["access-control-request-method"];
  if (ctx.method !== "OPTIONS" || origin === undefined || requestMethod === undefined) {
    ctx.addResponseModifier(cors.actual(origin));
    return false;
  }
  const answer = cors.preflight(origin, requestMethod, headers["access-control-request-headers"]);
  const metrics = ctx.env.metrics;
  if (answer === undefined) {
    metrics.corsPreflight(ctx.route, "denied");
    ctx.localReply(res, 403, "CORS: origin not allowed\n");
    ctx.done(403, "", "", 0);
    return true;
  }
  metrics.corsPreflight(ctx.route, "allowed");
  ctx.localReply(res, 200, "", undefined, undefined, answer);
  ctx.done(200, "", "", 0);
  return true;
}
