// One proxied request: from the routed request to the last response byte, with retries,
// deadlines, outlier reporting and backpressure in both directions.
import type { IncomingHttpHeaders } from "node:http";
import type { Dispatcher } from "undici";
import type { CompiledAction, CompiledBackend } from "../routing/router.js";
import type { EndpointState } from "../upstream/endpoint-state.js";
import { policyRetries, type RetryPolicy, retriesMethod, retryDelayMs } from "../upstream/retry-budget.js";
import { defer, type Flushable } from "../write-batch.js";
import type { HttpResponse } from "../uws.js";
import { BodyTooLargeError, type ClientBody, RETRY_BODY_BYTES } from "./client-body.js";
import type { ClusterRuntime, RequestContext } from "./context.js";
import type { PrimaryDigest } from "../mirror/primary-digest.js";
import { endHead } from "./context.js";
import { type Abandonable, containRequestError, faultPoint } from "./contain.js";
import { connectionOptions, RESPONSE_SKIP } from "./forward-headers.js";
import { STATUS_LINES } from "./status-lines.js";
import { uwsBytes } from "./wire-text.js";

type FailureKind = "connect-failure" | "reset" | "timeout";

const CONNECT_ERRORS = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
]);

function classify(err: Error & { code?: string }): FailureKind {
  if (err.code !== undefined && CONNECT_ERRORS.has(err.code)) return "connect-failure";
  return "reset";
}

/**
 * The request's life after routing. Owns the uWS response until it ends or the client aborts;
 * each upstream try is an Attempt.
 */
export class Exchange implements Abandonable {
  /** Set once the client is gone: uWS objects must not be touched after that. */
  clientAborted = false;
  /** Set once status and headers went to the client: no retry or error page after that. */
  headSent = false;
  finished = false;
  status = 0;
  attempts = 0;
  endpoint: EndpointState | undefined;
  attempt: Attempt | undefined;
  private deadline: NodeJS.Timeout | undefined;
  /** When the request's bound runs out (performance.now()); Infinity without one. */
  private deadlineAt = Infinity;
  /** The bound is the cluster's default, which stops at the response head. */
  private headOnlyDeadline = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryHeld = false;
  private triedEndpoint: EndpointState | undefined;
  /** Shadow comparison only: told the relayed response, or that there was none. */
  shadow: PrimaryDigest | undefined = undefined;
  /** The rule's own retry, or else the cluster's: which failures are tried again, how often. */
  private readonly retryPolicy: RetryPolicy;

  constructor(
    readonly ctx: RequestContext,
    readonly res: HttpResponse,
    readonly action: CompiledAction,
    readonly backend: CompiledBackend,
    readonly cluster: ClusterRuntime,
    readonly upstreamHeaders: Record<string, string>,
    readonly upstreamPath: string,
    readonly body: ClientBody | undefined,
  ) {
    const policy = action.retry ?? cluster.state.retryPolicy;
    this.retryPolicy = policy;
    // A body is kept (bounded) only where a retry could resend it; others stream as they come.
    if (body !== undefined && retriesMethod(policy, ctx.method)) body.keepForRetry(RETRY_BODY_BYTES);
  }

  start(): void {
    const breaker = this.cluster.state.breaker;
    if (breaker.tryStartRequest() !== "ok") {
      this.rejectOverflow("max-requests");
      return;
    }
    const capacity = this.cluster.capacity;
    if (
      breaker.active > capacity &&
      breaker.active - capacity > this.cluster.state.cfg.circuitBreaker.maxPendingRequests
    ) {
      breaker.endRequest();
      this.rejectOverflow("max-pending");
      return;
    }
    // One bound for the whole request, every attempt and back-off included: the route's
    // timeouts.request (to the last response byte; "0s" is none at all), or else the cluster's
    // default (to the response head; BackendTrafficPolicy timeout.http.requestTimeout, 15 s).
    const requestMs = this.action.requestTimeoutMs;
    const boundMs = requestMs ?? this.cluster.state.cfg.timeouts.responseHeadMs;
    if (boundMs > 0) {
      this.headOnlyDeadline = requestMs === undefined;
      this.deadlineAt = performance.now() + boundMs;
      this.deadline = setTimeout(() => this.guard(this.onDeadline), boundMs);
    }
    if (this.body !== undefined)
      this.body.onTooLarge = () => this.guard(() => this.fail(413, "request body too large\n", undefined));
    this.tryOnce();
  }

  /** A cluster limit refused the request before any upstream work: 503 with the limit named. */
  private rejectOverflow(limit: "max-requests" | "max-pending"): void {
    this.finished = true;
    this.cluster.metrics.overflow.labels(this.cluster.name, limit).inc();
    this.ctx.localReply(this.res, 503, `upstream ${limit} limit reached\n`, limit);
    this.ctx.done(503, this.cluster.name, "", 0);
  }

  private tryOnce(): void {
    const ep = this.cluster.state.pick(this.ctx.pickContext(), Date.now(), this.triedEndpoint);
    if (ep === undefined) {
      this.fail(503, "no healthy upstream\n", undefined);
      return;
    }
    this.attempts++;
    this.endpoint = ep;
    this.triedEndpoint = ep;
    ep.active++;
    const attempt = new Attempt(this, ep, Date.now());
    this.attempt = attempt;
    // A try's own bound (timeouts.backendRequest, "0s" none; or else the cluster retry policy's
    // perRetry.timeout where that policy decides) only ever shortens the request's.
    const perTry =
      this.action.backendRequestTimeoutMs ??
      (this.retryPolicy.source === "cluster" ? this.cluster.state.cfg.retry.perTryTimeoutMs : undefined) ??
      0;
    if (perTry > 0 && perTry < this.remainingMs())
      attempt.headTimer = setTimeout(() => this.guard(() => attempt.timedOut()), perTry);
    const body = this.body === undefined ? null : this.attempts === 1 ? this.body.first : this.body.replay();
    if (body === undefined) {
      // canRetry saw the body replayable; only a body that stopped since (it cannot) lands here.
      attempt.settle();
      this.fail(502, "request body could not be sent again\n", undefined);
      return;
    }
    faultPoint("dispatch");
    const pool = this.cluster.pool(ep);
    pool.dispatch(
      {
        path: this.upstreamPath,
        method: this.ctx.method as Dispatcher.HttpMethod,
        headers: this.upstreamHeaders,
        body,
        // A rule's retry counts every reset against its attempts: the pool must not resend
        // behind its back (the backend would see more tries than the rule allows).
        resendIfStale: this.retryPolicy.source === "cluster",
      },
      attempt,
    );
  }

  /**
   * An attempt ended before any response byte reached the client. Returns true when another
   * attempt was scheduled, false when this outcome is final.
   */
  attemptFailed(attempt: Attempt, kind: FailureKind | "status", status: number): boolean {
    attempt.settle();
    const now = Date.now();
    if (this.cluster.state.outlier.failure(attempt.ep, now)) {
      this.cluster.metrics.ejections.labels(this.cluster.name).inc();
    }
    if (kind !== "status") this.cluster.metrics.upstreamErrors.labels(this.cluster.name, kind).inc();
    this.releaseRetry();
    if (this.finished || this.clientAborted) return false;
    const policy = this.retryPolicy;
    if (this.wouldRetry(kind, status)) {
      const delay = retryDelayMs(this.attempts - 1, policy, this.cluster.state.cfg.retry);
      if (delay >= this.remainingMs()) {
        // The request's bound runs out before the retry could start: it ends now as it would
        // then, with 504, instead of idling until its deadline.
        this.fail(504, "request timeout\n", undefined);
        return false;
      }
      if (!this.takeRetryBudget()) return this.finalFailure(kind);
      this.cluster.metrics.retries
        .labels(this.cluster.name, this.action.route, policy.source, kind === "status" ? String(status) : kind)
        .inc();
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (!this.finished && !this.clientAborted) this.guard(this.tryOnce);
        else this.releaseRetry();
      }, delay);
      return true;
    }
    return this.finalFailure(kind);
  }

  /** This attempt's outcome is the answer: a status is relayed (false), a failure answered here. */
  private finalFailure(kind: FailureKind | "status"): false {
    if (kind === "status") return false; // the attempt goes on to relay the upstream's answer
    if (kind === "timeout") this.fail(504, "upstream response timeout\n", undefined);
    else
      this.fail(
        503,
        kind === "connect-failure" ? "upstream connect error\n" : "upstream reset before response\n",
        undefined,
      );
    return false;
  }

  /** A response head with this status would be retried (checked before it is relayed). */
  retriesStatus(status: number): boolean {
    return this.retryPolicy.codes.has(status) && this.attempts <= this.retryPolicy.attempts;
  }

  /**
   * The policy retries this outcome, retries are left, and the body (if any) can be sent again.
   * A try that ran out of its own timeout counts as a reset.
   */
  private wouldRetry(kind: FailureKind | "status", status: number): boolean {
    const policy = this.retryPolicy;
    if (this.attempts > policy.attempts) return false;
    if (this.body !== undefined && !this.body.replayable) return false;
    const outcome =
      kind === "status"
        ? { kind: "status" as const, status }
        : { kind: kind === "timeout" ? ("reset" as const) : kind };
    return policyRetries(policy, this.ctx.method, outcome);
  }

  /** The cluster's retry budget (Envoy's) holds for every retry, the rule's own included. */
  private takeRetryBudget(): boolean {
    if (!this.cluster.state.retryBudget.tryAcquire(this.cluster.state.breaker.active)) {
      this.cluster.metrics.retryBudgetExhausted.labels(this.cluster.name).inc();
      return false;
    }
    this.retryHeld = true;
    return true;
  }

  private releaseRetry(): void {
    if (this.retryHeld) {
      this.retryHeld = false;
      this.cluster.state.retryBudget.release();
    }
  }

  /** Time left in the request's bound (ms); Infinity without one. */
  remainingMs(): number {
    return this.deadlineAt === Infinity ? Infinity : this.deadlineAt - performance.now();
  }

  /** The response head is being relayed: a bound that stops at the head is met. */
  headArrived(): void {
    if (!this.headOnlyDeadline || this.deadline === undefined) return;
    clearTimeout(this.deadline);
    this.deadline = undefined;
    this.deadlineAt = Infinity;
  }

  /** The winning attempt got its response head. */
  attemptSucceeded(attempt: Attempt, status: number): void {
    attempt.settle();
    if (status >= 500) {
      if (this.cluster.state.outlier.failure(attempt.ep, Date.now()))
        this.cluster.metrics.ejections.labels(this.cluster.name).inc();
    } else {
      this.cluster.state.outlier.success(attempt.ep);
    }
    this.releaseRetry();
  }

  /** Answers with a local error unless the head already went out; then the connection is cut. */
  fail(status: number, body: string, overloadReason: string | undefined): void {
    if (this.finished) return;
    this.attempt?.abort();
    if (this.clientAborted) {
      this.finish(status);
      return;
    }
    if (this.headSent) {
      // A partial response must not look complete to the client.
      this.finish(this.status);
      this.res.close();
      return;
    }
    this.finish(status);
    this.ctx.localReply(this.res, status, body, overloadReason);
  }

  private onDeadline(): void {
    this.deadline = undefined;
    const attempt = this.attempt;
    if (attempt !== undefined && attempt.awaitingHead()) {
      // The try still waiting for its answer counts as a timed-out try does.
      this.cluster.metrics.upstreamErrors.labels(this.cluster.name, "timeout").inc();
      if (this.cluster.state.outlier.failure(attempt.ep, Date.now()))
        this.cluster.metrics.ejections.labels(this.cluster.name).inc();
    }
    this.fail(504, this.headOnlyDeadline ? "upstream response timeout\n" : "request timeout\n", undefined);
  }

  /** Runs `step` (a timer's, an event's); an exception in it ends the request (contain.ts). */
  guard(step: () => void): void {
    try {
      step.call(this);
    } catch (err) {
      this.crashed(err);
    }
  }

  /** Handling this request threw: it is answered 500 (or reset) and ended. */
  crashed(err: unknown): void {
    containRequestError("upstream", err, this.res, this.ctx, this.ctx.env);
  }

  /** Stops everything this request still runs, never touching the client's response again. */
  abandon(): void {
    this.clientAborted = true;
    this.body?.clientAborted();
    this.attempt?.abort();
    this.finish(500);
  }

  onClientAborted(): void {
    this.clientAborted = true;
    this.body?.clientAborted();
    this.attempt?.abort();
    if (!this.finished) this.finish(this.status || 499);
  }

  /** Ends the bookkeeping of this request exactly once. */
  finish(status: number): void {
    if (this.finished) return;
    this.finished = true;
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.releaseRetry();
    this.body?.detach();
    // After a whole response Attempt.finishOk has ended it; otherwise nothing is compared.
    this.shadow?.fail();
    this.cluster.state.breaker.endRequest();
    this.status = status;
    this.ctx.done(status, this.cluster.name, this.endpoint?.key ?? "", this.attempts);
  }
}

/** One try against one endpoint: an undici dispatch handler that relays the response. */
export class Attempt implements Dispatcher.DispatchHandler, Flushable {
  headTimer: NodeJS.Timeout | undefined;
  private controller: Dispatcher.DispatchController | undefined;
  private abandoned = false;
  private settled = false;
  private relaying = false;
  private status = 0;
  private headLines: [string, string | Buffer][] = [];
  private total = -1;
  private pending: Buffer | undefined;
  private pendingOffset = 0;
  private readonly noBody: boolean;
  private queued: Buffer[] = [];
  private endSeen = false;
  private flushScheduled = false;
  /** Waiting for the client's socket to drain. */
  private blocked = false;
  private wroteBody = false;
  /** HEAD, 204 or 304: the response ends with its head. */
  private bodyless = false;
  /** The Content-Length a bodyless answer reports, when it reports one. */
  private headLength: string | undefined = undefined;

  constructor(
    private readonly ex: Exchange,
    readonly ep: EndpointState,
    private readonly startedAt: number,
  ) {
    this.noBody = ex.ctx.method === "HEAD";
  }

  /** Releases this try's hold on its endpoint's active count, once. */
  settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.ep.active--;
  }

  /** Sent, and no answer yet. */
  awaitingHead(): boolean {
    return !this.settled;
  }

  /** Stops this try: its result will be ignored and its upstream request cancelled. */
  abort(): void {
    this.settle();
    if (this.abandoned) return;
    this.abandoned = true;
    this.clearHeadTimer();
    this.controller?.abort(new Error("request cancelled by the gateway"));
  }

  timedOut(): void {
    this.headTimer = undefined;
    if (this.abandoned || this.relaying) return;
    this.abort();
    this.ex.attemptFailed(this, "timeout", 0);
  }

  private clearHeadTimer(): void {
    if (this.headTimer !== undefined) {
      clearTimeout(this.headTimer);
      this.headTimer = undefined;
    }
  }

  /** meshgate's own pool hands over the controller while the request waits for a connection. */
  onRequestQueued(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // A client that left while this request waited in the pool's queue: cancel now, or the
    // upstream socket would sit paused forever (PERF-NOTES.md).
    if (this.abandoned) controller.abort(new Error("request cancelled by the gateway"));
  }

  // The upstream client's callbacks: an exception in one ends this request (Exchange.crashed)
  // instead of escaping into the connection's socket handler, where it would be uncaught.

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    try {
      this.responseStart(controller, statusCode, headers);
    } catch (err) {
      this.ex.crashed(err);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    try {
      this.responseData(controller, chunk);
    } catch (err) {
      this.ex.crashed(err);
    }
  }

  onResponseEnd(): void {
    try {
      this.responseEnd();
    } catch (err) {
      this.ex.crashed(err);
    }
  }

  onResponseError(controller: Dispatcher.DispatchController, err: Error): void {
    try {
      this.responseError(controller, err);
    } catch (again) {
      this.ex.crashed(again);
    }
  }

  flush(): void {
    try {
      this.flushBatch();
    } catch (err) {
      this.ex.crashed(err);
    }
  }

  private responseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (this.abandoned) return;
    faultPoint("response-head");
    this.clearHeadTimer();
    const ex = this.ex;
    ex.cluster.metrics.upstreamResponse(ex.cluster.name, (Date.now() - this.startedAt) / 1000);
    if (ex.retriesStatus(statusCode)) {
      // Decide before relaying: a retried response is dropped, a final one is relayed.
      if (ex.attemptFailed(this, "status", statusCode) || ex.finished) {
        this.abandoned = true;
        controller.abort(new Error("retrying"));
        return;
      }
    } else {
      ex.attemptSucceeded(this, statusCode);
    }
    if (ex.clientAborted) {
      this.abort();
      return;
    }
    this.relaying = true;
    ex.headArrived();
    this.status = statusCode;
    ex.shadow?.head(statusCode, headers);
    const lines: [string, string | Buffer][] = [];
    const modified = ex.ctx.responseHeaders(headers);
    const quota = ex.ctx.quota;
    const listed = connectionOptions(headers);
    // meshgate's own pool says whether the head had bytes above 0x7F; otherwise (undici), or when
    // a filter set values (which may have them), every value is looked at.
    const high = modified !== headers || (controller as { highBytes?: boolean }).highBytes !== false;
    for (const name in modified) {
      if (RESPONSE_SKIP.has(name)) continue;
      if (quota !== undefined && (name === "ratelimit" || name === "ratelimit-policy")) continue;
      if (listed?.has(name) === true) continue;
      const value = modified[name];
      if (value === undefined) continue;
      // Values are the upstream's bytes (latin1); uWS would send a string's chars as UTF-8.
      if (Array.isArray(value)) for (const v of value) lines.push([name, high ? uwsBytes(v) : v]);
      else lines.push([name, high ? uwsBytes(value) : value]);
    }
    if (quota !== undefined) lines.push(["ratelimit-policy", quota.policy], ["ratelimit", quota.value]);
    const length = headers["content-length"];
    if (typeof length === "string" && !headers["transfer-encoding"]) this.total = Number(length);
    // No body follows for HEAD, 204 and 304: HEAD and 304 carry the length a GET would get, as
    // the upstream said it; 204 never has one (RFC 9110 8.6).
    if (this.noBody || statusCode === 204 || statusCode === 304) {
      this.bodyless = true;
      this.headLength = statusCode !== 204 && typeof length === "string" ? length : undefined;
    }
    this.headLines = lines;
  }

  private writeHead(): void {
    const ex = this.ex;
    const res = ex.res;
    ex.ctx.headStarted = true;
    res.writeStatus(STATUS_LINES[this.status] ?? String(this.status));
    for (const [name, value] of this.headLines) res.writeHeader(name, value);
    ex.headSent = true;
    ex.status = this.status;
  }

  // The response is relayed to the client in batches (write-batch.ts): chunks and the end wait
  // in `queued` / `endSeen` until flush(), which writes them under one cork, later in the same
  // loop iteration. Chunks are views of the upstream connection's read buffer, valid until it
  // reads again (a later iteration): whatever waits longer, for a slow client, is copied.

  private responseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.abandoned) return;
    const ex = this.ex;
    if (ex.clientAborted || ex.finished) {
      this.abort();
      return;
    }
    this.controller = controller;
    ex.shadow?.data(chunk);
    this.queued.push(chunk);
    this.schedule();
  }

  private responseEnd(): void {
    if (this.abandoned) return;
    const ex = this.ex;
    if (ex.clientAborted || ex.finished) return;
    this.endSeen = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.flushScheduled || this.blocked) return;
    this.flushScheduled = true;
    defer(this);
  }

  private flushBatch(): void {
    this.flushScheduled = false;
    const ex = this.ex;
    if (this.abandoned || ex.clientAborted || ex.finished) return;
    ex.res.cork(() => this.pump());
  }

  /** Hands queued chunks (and the end) to uWS until done or the client stops reading. */
  private pump(): void {
    const ex = this.ex;
    const res = ex.res;
    if (!ex.headSent) this.writeHead();
    faultPoint("response-body");
    const queued = this.queued;
    let next = 0;
    while (next < queued.length) {
      const chunk = queued[next++] as Buffer;
      if (this.bodyless) continue; // nothing may follow the head; the parser sends none anyway
      if (this.total >= 0) {
        this.wroteBody = true;
        const offset = res.getWriteOffset();
        if (offset + chunk.length >= this.total) ex.ctx.resumeClient(res);
        const [ok, done] = res.tryEnd(chunk, this.total);
        if (done) {
          this.queued = [];
          this.finishOk();
          return;
        }
        if (!ok) {
          // uWS kept none of what it could not send: resend from the offset it reached.
          // A copy: the upstream connection reuses its read buffer once the response is in.
          this.pending = Buffer.from(chunk);
          this.pendingOffset = offset;
          this.waitWritable(queued, next, (at) => this.drainKnownLength(at));
          return;
        }
      } else if (!res.write(chunk)) {
        // uWS buffered the rest of this chunk itself; the others wait for the drain.
        this.waitWritable(queued, next, () => {
          this.blocked = false;
          this.resumeAfterDrain();
          return true;
        });
        return;
      }
    }
    this.queued = [];
    if (!this.endSeen) return;
    if (this.total >= 0 && this.wroteBody && !this.bodyless) return; // tryEnd ends it, or drains
    ex.ctx.resumeClient(res);
    if (this.bodyless) endHead(res, this.headLength, ex.ctx.closeAfter());
    else res.end(undefined, ex.ctx.closeAfter());
    this.finishOk();
  }

  /** Stops the upstream until the client's socket drains; keeps what is not yet written. */
  private waitWritable(queued: Buffer[], next: number, onWritable: (at: number) => boolean): void {
    // Copies, for the same reason as `pending`: these outlive this loop iteration.
    this.queued = queued.slice(next).map((chunk) => Buffer.from(chunk));
    this.blocked = true;
    this.controller?.pause();
    this.ex.res.onWritable((at) => {
      try {
        return onWritable(at);
      } catch (err) {
        this.ex.crashed(err);
        return true;
      }
    });
  }

  private drainKnownLength(at: number): boolean {
    const ex = this.ex;
    const pending = this.pending;
    if (pending === undefined || this.abandoned || ex.clientAborted) return true;
    if (this.pendingOffset + pending.length >= this.total) ex.ctx.resumeClient(ex.res);
    const [ok, done] = ex.res.tryEnd(pending.subarray(at - this.pendingOffset), this.total);
    if (done) {
      this.pending = undefined;
      this.finishOk();
      return true;
    }
    if (ok) {
      this.pending = undefined;
      this.blocked = false;
      this.resumeAfterDrain();
    }
    return ok;
  }

  /** Runs inside uWS's writable callback, which is corked already. */
  private resumeAfterDrain(): void {
    if (this.abandoned || this.ex.clientAborted || this.ex.finished) return;
    this.controller?.resume();
    if (this.queued.length > 0 || this.endSeen) this.pump();
  }

  private finishOk(): void {
    this.ex.shadow?.end();
    this.ex.finish(this.status);
  }

  private responseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.clearHeadTimer();
    const ex = this.ex;
    if (this.relaying) {
      ex.fail(502, "upstream error\n", undefined);
      return;
    }
    if (err instanceof BodyTooLargeError) {
      this.settle();
      ex.fail(413, "request body too large\n", undefined);
      return;
    }
    ex.attemptFailed(this, classify(err as Error & { code?: string }), 0);
  }
}
