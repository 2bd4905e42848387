// The uWS request handler: reads the request head synchronously (uWS invalidates `req` on
// return), enforces client limits (request-checks.ts), normalises the path, routes, holds
// rate-limited requests for their decision (held-request.ts), applies the route's filters and
// hands the request to an Exchange. WebSocket upgrades (websocket.ts) take the same steps and
// differ only in what they hand the request to.
import { startCopies } from "../mirror/route-mirrors.js";
import { applyHeaderModifier, type CompiledRedirect, redirectLocation, rewritePath } from "../routing/filters.js";
import type { RequestInfo } from "../routing/request.js";
import type { CompiledAction, CompiledBackend, PortRouter, RouteMatch } from "../routing/router.js";
import type { RejectReason } from "../telemetry/metrics.js";
import type { HttpRequest, HttpResponse } from "../uws.js";
import { ClientBody } from "./client-body.js";
import { containRequestError, faultPoint } from "./contain.js";
import { corsFirst } from "./cors-answer.js";
import { injectFault } from "./fault-injection.js";
import { type ClusterRuntime, RequestContext, type RequestEnvironment } from "./context.js";
import { Exchange } from "./exchange.js";
import { stripHopByHop } from "./forward-headers.js";
import { type HeldRequest, limitThenServe } from "./held-request.js";
import { newRequestId } from "./ids.js";
import { normalizePath } from "./path-normalize.js";
import { forwardingHeaders, hasRequestBody, rejection, trustedClient } from "./request-checks.js";
import { clientAddress, hostOf, readHeaders } from "./request-head.js";
import { encodeTarget, wireValue } from "./wire-text.js";
import { isMisdirected } from "../tls/misdirected.js";

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

/** A request that passed the head checks and found its route. */
export interface Admitted {
  readonly ctx: RequestContext;
  readonly match: RouteMatch;
  readonly info: RequestInfo;
  readonly hostHeader: string;
  /** The client sent X-Forwarded-* of its own (request-checks.ts forwardingHeaders). */
  readonly clientForwarded: boolean;
}

/** The request as its backend gets it, once the route's filters have run. */
export interface Forwarded {
  readonly action: CompiledAction;
  readonly backend: CompiledBackend;
  readonly cluster: ClusterRuntime;
  readonly headers: Record<string, string>;
  /** Path and query, as bytes (wire-text.ts). */
  readonly target: string;
  /** Decided before the hop-by-hop headers (Transfer-Encoding among them) were removed. */
  readonly hasBody: boolean;
}

/** What becomes of a request once it may go upstream: an Exchange, or a WebSocket link. */
export type Dispatch = (res: HttpResponse, a: Admitted, f: Forwarded, held: HeldRequest | undefined) => void;

/** `serverName`: on an HTTPS port, the listener hostname the handshake's SNI chose (none for the
 * fallback certificate). */
export function handleRequest(res: HttpResponse, req: HttpRequest, gen: PortGeneration, serverName?: string): void {
  try {
    const admitted = admit(res, req, gen, false, serverName);
    if (admitted !== undefined) proceed(res, admitted, gen, startExchange);
  } catch (err) {
    containRequestError("request", err, res, admittedSoFar(), gen.env);
  }
}

/**
 * The context of the request the handler is working on, from the moment it exists: uWS runs one
 * handler at a time, to completion, so a handler that throws finds its request here (contain.ts).
 */
let admitting: RequestContext | undefined;

export function admittedSoFar(): RequestContext | undefined {
  return admitting;
}

/**
 * Reads the head, checks it, normalises the path and routes. Answers the request itself (and
 * returns undefined) when it is refused, redirected for its path, an ACME challenge, or routeless.
 * `serverName` as for handleRequest: a Host of another listener is refused 421.
 */
export function admit(res: HttpResponse, req: HttpRequest, gen: PortGeneration, upgrade: boolean, serverName?: string): Admitted | undefined {
  admitting = undefined;
  const env = gen.env;
  const limits = env.client;
  const startedAt = performance.now();
  const method = req.getCaseSensitiveMethod();
  const rawPath = req.getUrl();
  const rawQuery = req.getQuery() ?? "";
  // As forwarded: non-ASCII percent-encoded (wire-text.ts); undefined: bytes no query may hold.
  const query = wireValue(rawQuery) === undefined ? undefined : encodeTarget(rawQuery);
  const head = readHeaders(req);
  const headers = head.headers;
  const peerIp = clientAddress(res, env);
  const sourceIp = limits.trustedHops > 0 ? (trustedClient(headers["x-forwarded-for"], limits.trustedHops) ?? peerIp) : peerIp;
  let requestId = headers["x-request-id"];
  if (requestId === undefined || !REQUEST_ID.test(requestId)) requestId = newRequestId();
  const hostHeader = headers["host"];
  const normalized = normalizePath(rawPath, limits);
  const ok = normalized.kind === "ok";
  const ctx = new RequestContext(
    env,
    method,
    hostOf(hostHeader),
    ok ? encodeTarget(normalized.path) : "/",
    query ?? "",
    headers,
    sourceIp,
    requestId,
    startedAt,
    peerIp,
  );
  admitting = ctx;
  faultPoint("admit");
  ctx.upgrade = upgrade;
  if (ok) ctx.routePath = normalized.path === normalized.match ? ctx.path : encodeTarget(normalized.match);

  const reject = rejection(ctx, hostHeader, head.bytes, head.invalid, rawPath.length + rawQuery.length + 1, query === undefined);
  if (reject !== undefined) {
    answer(ctx, res, reject.status, reject.body, reject.reason);
    return undefined;
  }
  if (serverName !== undefined && isMisdirected(serverName, ctx.host, gen.router)) {
    answer(ctx, res, 421, "misdirected request\n", "misdirected");
    return undefined;
  }
  if (method === "CONNECT") {
    // A tunnel through an edge gateway to whatever a backend reaches: not offered (as Envoy
    // without connect_matcher); and its 2xx answer has no framing the upstream client could read.
    answer(ctx, res, 405, "CONNECT is not supported\n", "bad-request");
    return undefined;
  }
  if (normalized.kind === "reject") {
    answer(ctx, res, 400, `bad request: ${normalized.reason}\n`, "bad-request");
    return undefined;
  }
  if (normalized.kind === "redirect") {
    // escapedSlashesAction UnescapeAndRedirect: the client asks again for the decoded path.
    const location = encodeTarget(normalized.path) + (ctx.query.length > 0 ? "?" + ctx.query : "");
    ctx.localReply(res, 307, "", undefined, location);
    ctx.done(307, "", "", 0);
    return undefined;
  }

  if (gen.acmeChallenges.size > 0 && ctx.path.startsWith(CHALLENGE_PREFIX)) {
    // Served before any HTTPRoute, so a catch-all route or redirect cannot hide it from the CA.
    const token = gen.acmeChallenges.get(ctx.path.slice(CHALLENGE_PREFIX.length));
    if (token !== undefined) {
      ctx.localReply(res, 200, token);
      ctx.done(200, "", "", 0);
      return undefined;
    }
  }
  const info: RequestInfo = { host: ctx.host, method, path: ctx.routePath, query: ctx.query, headers };
  const match = gen.router.route(info);
  if (match === undefined) {
    answer(ctx, res, 404, "no route for this host and path\n", "no-route");
    return undefined;
  }
  ctx.gateway = match.listener.gateway;
  ctx.listener = match.listener.name;
  ctx.route = match.action.route;
  return { ctx, match, info, hostHeader: hostHeader ?? "", clientForwarded: head.forwarded };
}

function answer(ctx: RequestContext, res: HttpResponse, status: number, body: string, reason: RejectReason): void {
  ctx.env.metrics.rejected.labels(reason).inc();
  ctx.localReply(res, status, body);
  ctx.done(status, "", "", 0);
}

/**
 * CORS first (a preflight is answered here, before rate limits, redirects and faults, as Envoy
 * runs its CORS filter ahead of the router), then rate limits (the request may be held for the
 * decision), then the route's filters.
 */
export function proceed(res: HttpResponse, a: Admitted, gen: PortGeneration, dispatch: Dispatch): void {
  const cors = a.match.action.cors;
  if (cors !== undefined && corsFirst(res, a.ctx, cors)) return;
  const limits = a.match.action.rateLimits;
  if (limits.length !== 0) {
    limitThenServe(res, a.ctx, limits, (held) => serve(res, a, gen, held, dispatch));
    return;
  }
  serve(res, a, gen, undefined, dispatch);
}

/** Everything after routing (and rate limiting): redirect, backend choice, filters, dispatch. */
function serve(
  res: HttpResponse,
  a: Admitted,
  gen: PortGeneration,
  held: HeldRequest | undefined,
  dispatch: Dispatch,
): void {
  const { ctx, match } = a;
  const { action } = match;
  const { path, query, headers } = ctx;
  if (action.redirect !== undefined) {
    redirect(res, a, action.redirect);
    return;
  }
  const backend = action.pickBackend();
  if (backend?.redirect !== undefined) {
    // A backendRef's own RequestRedirect: the share of requests that chose this backend.
    redirect(res, a, backend.redirect);
    return;
  }
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
  forwardingHeaders(ctx, headers, a.hostHeader, a.clientForwarded);
  if (action.requestHeaders !== undefined) applyHeaderModifier(headers, action.requestHeaders);
  if (backend.requestHeaders !== undefined) applyHeaderModifier(headers, backend.requestHeaders);
  ctx.addResponseModifier(action.responseHeaders);
  ctx.addResponseModifier(backend.responseHeaders);
  let target = path;
  const rewrite = backend.rewrite ?? action.rewrite;
  if (rewrite !== undefined) {
    if (rewrite.hostname !== undefined) headers["host"] = rewrite.hostname;
    // The matched prefix is a prefix of the path as matched; where that differs from the bytes
    // forwarded (an encoded slash kept), the rewrite works on the matched form.
    target = rewritePath(rewrite.path?.type === "ReplacePrefixMatch" ? ctx.routePath : path, match.matchedPrefix, rewrite);
  }
  if (query.length > 0) target += "?" + query;
  const forwarded: Forwarded = { action, backend, cluster, headers, target, hasBody };
  // Fault injection last, just before the request would go upstream.
  if (action.fault !== undefined) injectFault(res, a, forwarded, held, dispatch, action.fault);
  else dispatch(res, a, forwarded, held);
}

function redirect(res: HttpResponse, a: Admitted, to: CompiledRedirect): void {
  const { ctx, match } = a;
  const location = redirectLocation(a.info, ctx.env.scheme, ctx.env.port, match.matchedPrefix, to);
  ctx.localReply(res, to.statusCode, "", undefined, location);
  ctx.done(to.statusCode, "", "", 0);
}

/** A plain request: mirrors, the body stream and the Exchange. */
function startExchange(res: HttpResponse, a: Admitted, f: Forwarded, held: HeldRequest | undefined): void {
  const { ctx } = a;
  const { action, headers, target, hasBody } = f;
  // Mirrors copy the request as the primary upstream gets it; routes without any pay one check.
  const mirrored =
    action.mirrors.length === 0
      ? undefined
      : startCopies(action.mirrors, { method: ctx.method, path: target, headers }, hasBody, headers["content-length"]);
  let body: ClientBody | undefined;
  if (hasBody) body = new ClientBody(res, ctx.env.client.maxBodyBytes, mirrored?.body);
  const exchange = new Exchange(ctx, res, action, f.backend, f.cluster, headers, target, body);
  ctx.owner = exchange;
  if (body !== undefined) {
    const b = body;
    const feed = (chunk: ArrayBuffer, isLast: boolean) => {
      try {
        b.feed(chunk, isLast);
        // Read no further (a pipelined request) until the answer is out; see pauseClient.
        if (isLast && !exchange.finished && !exchange.clientAborted) ctx.pauseClient(res);
      } catch (err) {
        exchange.crashed(err);
      }
    };
    if (held === undefined) res.onData(feed);
    else held.release(feed);
  } else {
    ctx.pauseClient(res);
  }
  if (mirrored?.primary !== undefined) exchange.shadow = mirrored.primary;
  const aborted = () => {
    try {
      exchange.onClientAborted();
    } catch (err) {
      exchange.crashed(err);
    }
  };
  if (held === undefined) res.onAborted(aborted);
  else held.onAborted = aborted;
  exchange.start();
}
