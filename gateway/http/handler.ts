// The uWS request handler: reads the request head synchronously (uWS invalidates `req` on
// return), enforces client limits, routes, and hands the request to an Exchange.
import { startCopies } from "../mirror/route-mirrors.js";
import { applyHeaderModifier, redirectLocation, rewritePath } from "../routing/filters.js";
import type { RequestInfo } from "../routing/request.js";
import type { PortRouter, RouteMatch } from "../routing/router.js";
import type { RejectReason } from "../telemetry/metrics.js";
import type { HttpRequest, HttpResponse } from "../uws.js";
import { ClientBody } from "./client-body.js";
import { type ClusterRuntime, RequestContext, type RequestEnvironment } from "./context.js";
import { Exchange } from "./exchange.js";
import { stripHopByHop } from "./forward-headers.js";
import { newRequestId, newTraceparent, validTraceparent } from "./ids.js";
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
const DIGITS = /^\d{1,15}$/;

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
    limitThenServe(res, ctx, gen, match, info, hostHeader);
    return;
  }
  serve(res, ctx, gen, match, info, hostHeader, undefined);
}

/**
 * A request on a rate-limited route, held while the limiters decide. uWS allows one onAborted
 * and needs onData attached before the handler returns: both are attached here, and hand over
 * to the Exchange once the request may pass. Body chunks arriving meanwhile are copied.
 */
class HeldRequest {
  aborted = false;
  onAborted: (() => void) | undefined;
  private chunks: { chunk: ArrayBuffer; isLast: boolean }[] = [];
  private sink: ((chunk: ArrayBuffer, isLast: boolean) => void) | undefined;

  hold(chunk: ArrayBuffer, isLast: boolean): void {
    if (this.sink !== undefined) this.sink(chunk, isLast);
    else this.chunks.push({ chunk: chunk.slice(0), isLast });
  }

  release(sink: (chunk: ArrayBuffer, isLast: boolean) => void): void {
    for (const c of this.chunks) sink(c.chunk, c.isLast);
    this.chunks = [];
    this.sink = sink;
  }
}

function limitThenServe(
  res: HttpResponse,
  ctx: RequestContext,
  gen: PortGeneration,
  match: RouteMatch,
  info: RequestInfo,
  hostHeader: string | undefined,
): void {
  const held = new HeldRequest();
  res.onAborted(() => {
    held.aborted = true;
    if (held.onAborted !== undefined) held.onAborted();
    else ctx.done(499, "", "", 0);
  });
  if (hasRequestBody(ctx.headers)) res.onData((chunk, isLast) => held.hold(chunk, isLast));
  const facts = { sourceIp: ctx.sourceIp, method: ctx.method, path: ctx.path, headers: ctx.headers, query: ctx.query };
  ctx.env.rateLimits.check(match.action.rateLimits, facts).then(
    (denial) => {
      if (held.aborted) return;
      if (denial === undefined) {
        serve(res, ctx, gen, match, info, hostHeader, held);
        return;
      }
      ctx.localReply(res, 429, "too many requests\n", undefined, undefined, denial.headers);
      ctx.done(429, "", "", 0);
    },
    () => {
      // check() does not reject; should a bug make it, the request still gets an answer.
      if (held.aborted) return;
      ctx.localReply(res, 500, "rate limit check failed\n");
      ctx.done(500, "", "", 0);
    },
  );
}

function hasRequestBody(headers: Record<string, string>): boolean {
  return headers["transfer-encoding"] !== undefined || (headers["content-length"] ?? "0") !== "0";
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
  const observer =
    action.mirrors.length === 0
      ? undefined
      : startCopies(action.mirrors, { method, path: upstreamPath, headers }, hasBody, headers["content-length"]);
  let body: ClientBody | undefined;
  if (hasBody) {
    const b = new ClientBody(res, env.client.maxBodyBytes, observer);
    body = b;
    const feed = (chunk: ArrayBuffer, isLast: boolean) => b.feed(chunk, isLast);
    if (held === undefined) res.onData(feed);
    else held.release(feed);
  }
  const exchange = new Exchange(ctx, res, action, backend, cluster, headers, upstreamPath, body);
  if (held === undefined) res.onAborted(() => exchange.onClientAborted());
  else held.onAborted = () => exchange.onClientAborted();
  exchange.start();
}

interface Rejection {
  status: number;
  reason: RejectReason;
  body: string;
}

/** Client limits and request-head sanity, checked before routing. */
function rejection(
  ctx: RequestContext,
  hostHeader: string | undefined,
  headerBytes: number,
): Rejection | undefined {
  const limits = ctx.env.client;
  if (ctx.path.length + ctx.query.length + 1 > limits.maxUrlBytes) {
    return { status: 414, reason: "uri-too-long", body: "request URI too long\n" };
  }
  if (headerBytes > limits.maxHeaderBytes) {
    return { status: 431, reason: "header-too-large", body: "request header fields too large\n" };
  }
  // uWS hands repeated headers over one by one; a joined Host means the client sent two.
  if (
    hostHeader === undefined ||
    hostHeader.length === 0 ||
    hostHeader.includes(",") ||
    ctx.path.charCodeAt(0) !== 47
  ) {
    return { status: 400, reason: "bad-request", body: "bad request\n" };
  }
  const te = ctx.headers["transfer-encoding"];
  const cl = ctx.headers["content-length"];
  if (te !== undefined && (cl !== undefined || te.toLowerCase() !== "chunked")) {
    return { status: 400, reason: "bad-request", body: "bad request: invalid transfer-encoding\n" };
  }
  if (cl !== undefined) {
    if (!DIGITS.test(cl))
      return { status: 400, reason: "bad-request", body: "bad request: invalid content-length\n" };
    if (limits.maxBodyBytes > 0 && Number(cl) > limits.maxBodyBytes) {
      return { status: 413, reason: "body-too-large", body: "request body too large\n" };
    }
  }
  return undefined;
}

function forwardingHeaders(ctx: RequestContext, headers: Record<string, string>, hostHeader: string): void {
  const prior = headers["x-forwarded-for"];
  headers["x-forwarded-for"] = prior === undefined ? ctx.peerIp : prior + ", " + ctx.peerIp;
  headers["x-forwarded-proto"] = ctx.env.scheme;
  if (headers["x-forwarded-host"] === undefined) headers["x-forwarded-host"] = hostHeader;
  headers["x-request-id"] = ctx.requestId;
  const traceparent = headers["traceparent"];
  if (traceparent === undefined || !validTraceparent(traceparent)) {
    headers["traceparent"] = newTraceparent();
    delete headers["tracestate"];
  }
}


/**
 * The client address behind `hops` trusted proxies: the hops-th X-Forwarded-For entry from the
 * right (each trusted proxy appended the address it saw). Undefined when the header is shorter,
 * in which case the connecting peer is all that can be trusted.
 */
export function trustedClient(xff: string | undefined, hops: number): string | undefined {
  if (xff === undefined) return undefined;
  const entries = xff.split(",");
  const entry = entries[entries.length - hops]?.trim();
  return entry === undefined || entry.length === 0 ? undefined : entry;
}
