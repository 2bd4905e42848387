// Request-head checks before routing, and the forwarding headers added after it.
import type { RejectReason } from "../telemetry/metrics.js";
import type { RequestContext } from "./context.js";
import { newTraceparent, validTraceparent } from "./ids.js";

const DIGITS = /^\d{1,15}$/;

export interface Rejection {
  status: number;
  reason: RejectReason;
  body: string;
}

/** Client limits and request-head sanity, checked before routing. */
export function rejection(
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

export function hasRequestBody(headers: Record<string, string>): boolean {
  return headers["transfer-encoding"] !== undefined || (headers["content-length"] ?? "0") !== "0";
}

export function forwardingHeaders(ctx: RequestContext, headers: Record<string, string>, hostHeader: string): void {
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
