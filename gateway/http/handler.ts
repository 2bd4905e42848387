// The uWS request handler: reads the request head synchronously (uWS invalidates `req` on
// return), enforces client limits (request-checks.ts), routes, holds rate-limited requests for
// their decision (held-request.ts) and hands the request to an Exchange.
import { startCopies } from "../mirror/route-mirrors.js";
import { applyHeaderModifier, redirectLocation, rewritePath } from "../routing/filters.js";
import type { RequestInfo } from "../routing/request.js";
import type { PortRouter, RouteMatch } from "../routing/router.js";
import type { HttpRequest, HttpResponse } from "../uws.js";
import { ClientBody } from "./client-body.js";
import { type ClusterRuntime, RequestContext, type RequestEnvironment } from "./context.js";
import { Exchange } from "./exchange.js";
import { stripHopByHop } from "./forward-headers.js";
import { type HeldRequest, limitThenServe } from "./held-request.js";
import { newRequestId } from "./ids.js";
import { forwardingHeaders, hasRequestBody, rejection, trustedClient } from "./request-checks.js";
import { clientAddress, hostOf, readHeaders } from "./request-head.js";

/** Everything a port's requests read, swapped as one object when a Snapshot is applied. */
export interface PortGeneration {
  readonly env: RequestEnvironment;
  readonly router: PortRouter;
  readonly clusters: ReadonlyMap<string, ClusterRuntime>;
  /** ACME HTTP-01 answers by token; empty on HTTPS ports (the CA validates over HTTP). */
  readonly acmeChallenges: ReadonlyMap<string, string>;
}

const CHALLENGE_PREFIX = "/.well-known/acme-challenge/";

const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

export function handleRequest(res: HttpResponse, req: HttpRequest, gen: PortGeneration): void {
  const env = gen.env;
  const limits = env.client;
  const startedAt = performance.now();
  const method = req.getCaseSensitiveMethod();
  const path = req.getUrl();
  const query = req.getQuery() ?? "";
  const { headers, bytes: headerBytes } = readHeaders(req);
  const peerIp = clientAddress(res, env);
  const sourceIp = limits.trustedHops > 0 ? (trustedClient(headers["x-forwarded-for"], limits.trustedHops) ?? peerIp) : peerIp;
  let requestId = headers["x-request-id"];
  if (requestId === undefined || !REQUEST_ID.test(requestId)) requestId = newRequestId();
  const hostHeader = headers["host"];
  const ctx = new RequestContext(
    env,
    method,
    hostOf(hostHeader),
    path,
    query,
    headers,
    sourceIp,
    requestId,
    startedAt,
    peerIp,
  );

  const reject = rejection(ctx, hostHeader, headerBytes);
  if (reject !== undefined) {
    env.metrics.rejected.labels(reject.reason).inc();
    ctx.localReply(res, reject.status, reject.body);
    ctx.done(reject.status, "", "", 0);
    return;
  }

  if (gen.acmeChallenges.size > 0 && path.startsWith(CHALLENGE_PREFIX)) {
    // Served before any HTTPRoute, so a catch-all route or redirect cannot hide it from the CA.
    const answer = gen.acmeChallenges.get(path.slice(CHALLENGE_PREFIX.length));
    if (answer !== undefined) {
      res.cork(() => res.writeStatus("200 OK").writeHeader("content-type", "text/plain").end(answer));
      ctx.done(200, "", "", 0);
      return;
    }
  }
  const info: RequestInfo = { host: ctx.host, method, path, query, headers };
  const match = gen.router.route(info);
  if (match === undefined) {
    env.metrics.rejected.labels("no-route").inc();
    ctx.localReply(res, 404, "no route for this host and path\n");
    ctx.done(404, "", "", 0);
    return;
  }
  const action = match.action;
  ctx.gateway = match.listener.gateway;
  ctx.listener = match.listener.name;
  ctx.route = action.route;
  if (action.rateLimits.length !== 0) {
    limitThenServe(res, ctx, action.rateLimits, (held) => serve(res, ctx, gen, match, info, hostHeader, held));
    return;
  }
  serve(res, ctx, gen, match, info, hostHeader, undefined);
}

/** Everything after routing (and rate limiting): filters, backend choice, the Exchange. */
function serve(
  res: HttpResponse,
  ctx: RequestContext,
  gen: PortGeneration,
  match: RouteMatch,
  info: RequestInfo,
  hostHeader: string | undefined,
  held: HeldRequest | undefined,
): void {
  const { action } = match;
  const { method, path, query, headers, env } = ctx;
  if (action.redirect !== undefined) {
    const location = redirectLocation(info, env.scheme, env.port, match.matchedPrefix, action.redirect);
    ctx.localReply(res, action.redirect.statusCode, "", undefined, location);
    ctx.done(action.redirect.statusCode, "", "", 0);
    return;
  }
  const backend = action.pickBackend();
  const cluster = backend?.cluster == null ? undefined : gen.clusters.get(backend.cluster);
  if (backend === undefined || cluster === undefined) {
    ctx.localReply(res, 500, "route has no usable backend\n");
    ctx.done(500, backend?.cluster ?? "", "", 0);
    return;
  }
  if (cluster.state.endpoints.length === 0) {
    ctx.localReply(res, 503, "no healthy upstream\n");
    ctx.done(503, cluster.name, "", 0);
    return;
  }

  const hasBody = hasRequestBody(headers);
  stripHopByHop(headers);
  forwardingHeaders(ctx, headers, hostHeader ?? "");
  if (action.requestHeaders !== undefined) applyHeaderModifier(headers, action.requestHeaders);
  if (backend.requestHeaders !== undefined) applyHeaderModifier(headers, backend.requestHeaders);
  ctx.addResponseModifier(action.responseHeaders);
  ctx.addResponseModifier(backend.responseHeaders);
  let upstreamPath = path;
  const rewrite = backend.rewrite ?? action.rewrite;
  if (rewrite !== undefined) {
    if (rewrite.hostname !== undefined) headers["host"] = rewrite.hostname;
    upstreamPath = rewritePath(path, match.matchedPrefix, rewrite);
  }
  if (query.length > 0) upstreamPath += "?" + query;

  // Mirrors copy the request as the primary upstream gets it; routes without any pay one check.
  const mirrored =
    action.mirrors.length === 0
      ? undefined
      : startCopies(action.mirrors, { method, path: upstreamPath, headers }, hasBody, headers["content-length"]);
  let body: ClientBody | undefined;
  if (hasBody) {
    const b = new ClientBody(res, env.client.maxBodyBytes, mirrored?.body);
    body = b;
    const feed = (chunk: ArrayBuffer, isLast: boolean) => b.feed(chunk, isLast);
    if (held === undefined) res.onData(feed);
    else held.release(feed);
  }
  const exchange = new Exchange(ctx, res, action, backend, cluster, headers, upstreamPath, body);
  if (mirrored?.primary !== undefined) exchange.shadow = mirrored.primary;
  if (held === undefined) res.onAborted(() => exchange.onClientAborted());
  else held.onAborted = () => exchange.onClientAborted();
  exchange.start();
}
