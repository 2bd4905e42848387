// Request-head checks before routing, and the forwarding headers added after it.
import { isIP } from "node:net";
import type { RejectReason } from "../telemetry/metrics.js";
import type { RequestContext } from "./context.js";
import { newTraceparent, validTraceparent } from "./ids.js";
import { validHost } from "./request-head.js";

const DIGITS = /^\d{1,15}$/;
/**
 * Never in a query (RFC 3986 3.4 allows far less; these are the bytes no origin agrees on):
 * controls, space, DEL, "#", and U+FFFD, uWS's stand-in for bytes that were not UTF-8.
 */
// eslint-disable-next-line no-control-regex -- finding control bytes is the point
const BAD_QUERY = /[\x00-\x20\x7f#\ufffd]/;

export interface Rejection {
  status: number;
  reason: RejectReason;
  body: string;
}

const BAD_REQUEST: Rejection = { status: 400, reason: "bad-request", body: "bad request\n" };

/**
 * Client limits and request-head sanity, checked before routing. `invalidHeader`: a header value
 * held bytes no field may carry (request-head.ts). The path is checked by its normalisation
 * (path-normalize.ts).
 */
export function rejection(
  ctx: RequestContext,
  hostHeader: string | undefined,
  headerBytes: number,
  invalidHeader: boolean,
  /** The request target's length as received, before normalisation. */
  urlLength: number,
  /** The query held bytes that were not UTF-8 (uWS's U+FFFD). */
  invalidQuery = false,
): Rejection | undefined {
  const limits = ctx.env.client;
  if (urlLength > limits.maxUrlBytes) {
    return { status: 414, reason: "uri-too-long", body: "request URI too long\n" };
  }
  if (headerBytes > limits.maxHeaderBytes) {
    return { status: 431, reason: "header-too-large", body: "request header fields too large\n" };
  }
  if (invalidHeader) return { status: 400, reason: "bad-request", body: "bad request: invalid header value\n" };
  // uWS hands repeated headers over one by one; a joined Host means the client sent two.
  if (hostHeader === undefined || !validHost(hostHeader)) return BAD_REQUEST;
  if (invalidQuery || (ctx.query.length > 0 && BAD_QUERY.test(ctx.query))) {
    return { status: 400, reason: "bad-request", body: "bad request: invalid query\n" };
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

/**
 * X-Forwarded-* as the backend gets them. Without trusted hops in front, whatever the client
 * sent under those names is its own claim: dropped, and the gateway's view written. With trusted
 * hops, the nearest proxy's X-Forwarded-Host and -Proto stand and the peer is appended to
 * X-Forwarded-For, as Envoy does with xff_num_trusted_hops.
 */
export function forwardingHeaders(
  ctx: RequestContext,
  headers: Record<string, string>,
  hostHeader: string,
  clientForwarded: boolean,
): void {
  const trusted = ctx.env.client.trustedHops > 0;
  if (clientForwarded && !trusted) {
    for (const name in headers) if (name.startsWith("x-forwarded-")) delete headers[name];
  }
  const prior = headers["x-forwarded-for"];
  headers["x-forwarded-for"] = prior === undefined ? ctx.peerIp : prior + ", " + ctx.peerIp;
  if (!trusted || headers["x-forwarded-proto"] === undefined) headers["x-forwarded-proto"] = ctx.env.scheme;
  if (!trusted || headers["x-forwarded-host"] === undefined) headers["x-forwarded-host"] = hostHeader;
  headers["x-request-id"] = ctx.requestId;
  const traceparent = headers["traceparent"];
  if (traceparent === undefined || !validTraceparent(traceparent)) {
    headers["traceparent"] = newTraceparent();
    delete headers["tracestate"];
  }
}

/**
 * The client address behind `hops` trusted proxies: the hops-th X-Forwarded-For entry from the
 * right (each trusted proxy appended the address it saw). Undefined when the header is shorter or
 * that entry is not an IP address (`unknown`, `203.0.113.5:4711`, `[2001:db8::1]`): then the
 * connecting peer is all that can be trusted.
 */
export function trustedClient(xff: string | undefined, hops: number): string | undefined {
  if (xff === undefined) return undefined;
  const entries = xff.split(",");
  const entry = entries[entries.length - hops]?.trim();
  return entry === undefined || isIP(entry) === 0 ? undefined : entry;
}
