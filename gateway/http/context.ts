// Per-request state shared by the handler and the exchange, and the runtime shapes they read.
import type { IncomingHttpHeaders } from "node:http";
import { applyHeaderModifier } from "../routing/filters.js";
import type { CompiledHeaderModifier } from "../routing/router.js";
import type { ClientAliases } from "../passthrough/client-aliases.js";
import type { Quota, RateLimits } from "../ratelimit/runtime.js";
import type { ClientSettings } from "../snapshot.js";
import type { AccessLog, CutReason } from "../telemetry/access-log.js";
import type { DataPlaneMetrics } from "../telemetry/metrics.js";
import type { PickContext } from "../upstream/balancer.js";
import type { ClusterState } from "../upstream/cluster-state.js";
import type { EndpointState } from "../upstream/endpoint-state.js";
import type { UpstreamPool } from "../upstream/pool.js";
import type { HttpResponse } from "../uws.js";
import type { Abandonable, InternalErrorSite } from "./contain.js";
import { STATUS_LINES } from "./status-lines.js";
import { uwsBytes } from "./wire-text.js";

/**
 * Ends an answer to HEAD: the Content-Length a GET would get (when known) and no body. uWS 20.30's
 * `endWithoutBody` takes no arguments: given any, it leaves the response open and the process
 * aborts on return from the handler, or writes a Content-Length of 2^63. Without arguments it
 * writes no Content-Length, so the length goes in as a header of ours; and since it cannot close
 * the connection, a draining gateway tells the client to.
 */
export function endHead(res: HttpResponse, contentLength: string | undefined, close: boolean): void {
  if (contentLength !== undefined) res.writeHeader("content-length", contentLength);
  if (close) res.writeHeader("connection", "close");
  res.endWithoutBody();
}

/** A cluster as the request path sees it: decision state plus connection pools. */
export interface ClusterRuntime {
  readonly name: string;
  readonly state: ClusterState;
  /** Connections the cluster may hold in all; requests beyond it wait in a pool queue. */
  readonly capacity: number;
  readonly metrics: DataPlaneMetrics;
  pool(ep: EndpointState): UpstreamPool;
}

/** What a listener's requests need from the data plane, shared by all its requests. */
export interface RequestEnvironment {
  readonly metrics: DataPlaneMetrics;
  readonly accessLog: AccessLog | undefined;
  readonly client: ClientSettings;
  readonly scheme: "http" | "https";
  /** Shared ports only: who the client behind a hand-off connection's loopback address is. */
  readonly clientAliases: ClientAliases | undefined;
  readonly port: number;
  /** Counts rate-limited requests; consulted only for actions that have rate limits. */
  readonly rateLimits: RateLimits;
  draining(): boolean;
  /** Why requests ending now were cut short ("drain": the drain timeout closed their connections); undefined before. */
  cut(): CutReason | undefined;
  requestEnded(): void;
  /** Counts (meshgate_internal_errors_total) and logs an exception met while handling a request. */
  internalError(site: InternalErrorSite, err: unknown): void;
}

export class RequestContext implements PickContext {
  gateway = "";
  listener = "";
  route = "";
  /** Rate-limited routes: the quota the response head carries (replacing the upstream's). */
  quota: Quota | undefined = undefined;
  /** Reading from the client is paused until this request's answer is written (pipelining). */
  clientPaused = false;
  /** A WebSocket upgrade: its connection changes hands, so it is never paused. */
  upgrade = false;
  /**
   * The path as route matching saw it: `path`, except that an encoded slash kept in `path`
   * (escapedSlashesAction KeepUnchanged) reads as a slash here (path-normalize.ts).
   */
  routePath: string;
  private responseModifiers: CompiledHeaderModifier[] | undefined;
  /** A byte of the answer may have been written: an internal error then resets, never answers. */
  headStarted = false;
  /** What runs for this request after the handler returned; stopped if handling throws (contain.ts). */
  owner: Abandonable | undefined = undefined;
  /** done() ran: the request is counted and no longer in flight. */
  private ended = false;

  constructor(
    readonly env: RequestEnvironment,
    readonly method: string,
    readonly host: string,
    readonly path: string,
    readonly query: string,
    readonly headers: Record<string, string>,
    /** The client as far as it can be trusted (PROXY header, trusted X-Forwarded-For hops). */
    readonly sourceIp: string,
    readonly requestId: string,
    readonly startedAt: number,
    /** The hop that connected (or the PROXY header's source): what X-Forwarded-For gains. */
    readonly peerIp: string = sourceIp,
  ) {
    this.routePath = path;
  }

  pickContext(): PickContext {
    return this;
  }

  addResponseModifier(mod: CompiledHeaderModifier | undefined): void {
    if (mod === undefined) return;
    if (this.responseModifiers === undefined) this.responseModifiers = [mod];
    else this.responseModifiers.push(mod);
  }

  /** Applies the route's and backend's ResponseHeaderModifiers to the upstream's headers. */
  responseHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
    const mods = this.responseModifiers;
    if (mods === undefined) return headers;
    const flat: Record<string, string> = Object.create(null);
    for (const name in headers) {
      const v = headers[name];
      if (v === undefined) continue;
      flat[name] = Array.isArray(v) ? v.join(", ") : v;
    }
    // Set-Cookie values cannot be joined safely: keep them apart unless a modifier touched them.
    const cookies = headers["set-cookie"];
    for (const mod of mods) applyHeaderModifier(flat, mod);
    const out: IncomingHttpHeaders = flat;
    if (cookies !== undefined && flat["set-cookie"] === cookies.join(", ")) out["set-cookie"] = cookies;
    return out;
  }

  /**
   * With ClientTrafficPolicy http1.pipelining, stops reading the client's connection while the
   * answer is awaited. uWS 20.30 closes a connection when the next request on it is parsed before
   * the current one is answered; paused, a request pipelined behind this one waits in the socket
   * and is read once this answer is written. (Requests that arrive in the same read are parsed at
   * once, before this can act.) Off by default: two epoll changes per request cost ~10% rps.
   */
  pauseClient(res: HttpResponse): void {
    if (this.clientPaused || this.upgrade || !this.env.client.pipelining) return;
    this.clientPaused = true;
    res.pause();
  }

  /** Reading resumes just before the final write: uWS forbids touching `res` after it. */
  resumeClient(res: HttpResponse): void {
    if (!this.clientPaused) return;
    this.clientPaused = false;
    res.resume();
  }

  /** During drain, responses close their connection so clients move to another instance. */
  closeAfter(): boolean {
    return this.env.draining();
  }

  /** Answers from the gateway itself (errors, redirects). Must run while `res` is valid. */
  localReply(
    res: HttpResponse,
    status: number,
    body: string,
    overloadReason?: string,
    location?: string,
    extraHeaders?: Record<string, string>,
  ): void {
    this.headStarted = true;
    res.cork(() => {
      res.writeStatus(STATUS_LINES[status] ?? String(status));
      res.writeHeader("content-type", "text/plain; charset=utf-8");
      res.writeHeader("x-request-id", this.requestId);
      if (overloadReason !== undefined) res.writeHeader("x-meshgate-overloaded", overloadReason);
      if (location !== undefined) res.writeHeader("location", uwsBytes(location));
      if (extraHeaders !== undefined) for (const name in extraHeaders) res.writeHeader(name, extraHeaders[name] ?? "");
      this.resumeClient(res);
      if (this.method === "HEAD") endHead(res, String(Buffer.byteLength(body)), this.closeAfter());
      else res.end(body, this.closeAfter());
    });
  }

  /** Records the finished request, once (later calls do nothing): metrics, access log, in-flight count. */
  done(status: number, cluster: string, upstream: string, attempts: number): void {
    if (this.ended) return;
    this.ended = true;
    const env = this.env;
    try {
      const seconds = (performance.now() - this.startedAt) / 1000;
      const cut = env.cut();
      // A cut request is not the client's doing (499): it shows the code the client was sent,
      // 0 when it was sent nothing (as Envoy logs it), and why.
      const shown = cut === undefined || this.headStarted ? status : 0;
      env.metrics.request(this.gateway, this.route, cluster, shown, seconds);
      env.accessLog?.write(this, shown, cluster, upstream, attempts, seconds, cut);
    } finally {
      env.requestEnded();
    }
  }
}
