// The RequestMirror engine: sends a copy of a request to a mirror backend and forgets it. The
// primary never waits for the mirror: `begin` and the tee's `write` are synchronous and cheap,
// the copy is dispatched on a later turn of the event loop (setImmediate), its response is read
// and thrown away, a timer aborts it, and every failure is swallowed and counted.
//
// Body: the copy is collected by a BodyTee up to `maxBodyBytes` and dispatched once complete,
// with an exact Content-Length. Streaming it alongside the primary would save the wait but
// needs a buffer against a slow mirror all the same; collecting first keeps one bound and lets
// an over-long body be skipped before anything is sent.
//
// Host: like Envoy, "-shadow" is appended to the host name, before any port
// ("api.example.com:8080" -> "api.example.com-shadow:8080"), so a backend that serves both can
// tell copies apart. `hostSuffix: ""` sends the Host unchanged. Without a Host header the pool's
// own default (the mirror endpoint's address) is sent, unchanged.
import type { IncomingHttpHeaders } from "node:http";
import { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import type { H1DispatchHandler, H1DispatchOptions } from "../upstream/h1/pool.js";
import { defer, type Flushable } from "../write-batch.js";
import { BodyTee, type TeeOutcome } from "./body-tee.js";
import { type RandomSource, shouldMirror } from "./sampling.js";
import { BoundedHasher, type ResponseDigest, type ShadowCompare, type ShadowPair, selectHeaders } from "./shadow-compare.js";

/** What a mirror needs of its upstream: H1Pool, or anything with its dispatch. */
export interface MirrorDispatcher {
  dispatch(opts: H1DispatchOptions, handler: H1DispatchHandler): boolean;
}

/**
 * timeout: no complete response within `timeoutMs`; connect: the endpoint could not be reached;
 * status_5xx: the mirror answered 5xx; error: anything else (reset, malformed response...).
 */
export type MirrorFailureKind = "timeout" | "connect" | "status_5xx" | "error";

/** body_too_large: over `maxBodyBytes`; body_aborted: the client left before the body was whole; overloaded: `maxInFlight` copies already pending. */
export type MirrorSkipReason = "body_too_large" | "body_aborted" | "overloaded";

export interface MirrorMetrics {
  /** A copy was dispatched to the mirror. */
  sent(route: string): void;
  failed(route: string, kind: MirrorFailureKind): void;
  skipped(route: string, reason: MirrorSkipReason): void;
  /** Shadow comparison: the mirror's answer matched the primary's, or not. */
  compared(route: string, matched: boolean): void;
}

export interface MirrorOptions {
  route: string;
  pool: MirrorDispatcher;
  metrics: MirrorMetrics;
  /** From mirrorProbability(); default 1 (every request). */
  probability?: number;
  random?: RandomSource;
  timeoutMs: number;
  maxBodyBytes: number;
  /** Copies collecting a body or in flight at once; beyond it requests are skipped. Bounds memory to about maxInFlight * maxBodyBytes. */
  maxInFlight: number;
  /** Default "-shadow". */
  hostSuffix?: string;
  /** Shadow comparison: the mirror's body is hashed up to `maxHashBytes` (0: bodies are not compared). */
  compare?: MirrorCompare;
}

export interface MirrorCompare {
  store: ShadowCompare;
  maxHashBytes: number;
}

/** The request as it goes to the primary upstream (after the route's filters). */
export interface MirrorRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
}

/** One request's copy, as the proxy holds it. */
export interface MirrorCopy {
  /** Feed every body chunk here and call end() or abort(); null for a request without body. */
  readonly body: BodyTee | null;
  /** With shadow comparison: the primary's response, to compare once the mirror's is in. */
  primaryResponse(digest: ResponseDigest): void;
  /** The primary failed: nothing to compare. */
  primaryFailed(): void;
}

const CONNECT_CODES = new Set(["ECONNREFUSED", "UND_ERR_CONNECT_TIMEOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EADDRNOTAVAIL"]);

class MirrorTimeoutError extends Error {
  constructor(ms: number) {
    super(`mirror timed out after ${ms} ms`);
  }
}

/** "host[:port]" with `suffix` after the host name; IPv6 literals keep their brackets. */
export function shadowHost(host: string, suffix: string): string {
  if (suffix === "") return host;
  const close = host.startsWith("[") ? host.indexOf("]") : -1;
  const colon = host.indexOf(":", close === -1 ? 0 : close);
  if (close !== -1 && colon !== close + 1) return host + suffix;
  return colon === -1 ? host + suffix : host.slice(0, colon) + suffix + host.slice(colon);
}

/** The copy's headers: the Host suffixed, and with a collected body its exact length. */
export function mirrorHeaders(
  headers: Record<string, string>,
  suffix: string,
  bodyBytes: number | null,
): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (lower === "host") out[name] = shadowHost(value, suffix);
    else if (bodyBytes === null || (lower !== "content-length" && lower !== "transfer-encoding")) out[name] = value;
  }
  if (bodyBytes !== null) out["content-length"] = String(bodyBytes);
  return out;
}

// Copies leave after their primaries, all of a turn's together: they are dispatched from the
// write batch (write-batch.ts) once the primaries' writes are made, so their own writes follow
// in the same batch, to upstreams the primaries' writes just woke.
let laterQueue: (() => void)[] = [];
const copies: Flushable = {
  flush(): void {
    const queue = laterQueue;
    laterQueue = [];
    for (const run of queue) run();
  },
};
function later(run: () => void): void {
  if (laterQueue.push(run) === 1) defer(copies);
}

const NOOP_PAIR: ShadowPair = { primary() {}, mirror() {}, abandon() {} };

export class Mirror {
  readonly route: string;
  private readonly opts: MirrorOptions;
  private readonly probability: number;
  private readonly hostSuffix: string;
  private pending = 0;

  constructor(opts: MirrorOptions) {
    this.opts = opts;
    this.route = opts.route;
    this.probability = opts.probability ?? 1;
    this.hostSuffix = opts.hostSuffix ?? "-shadow";
  }

  /** Shadow comparison settings, when this mirror's answers are compared with the primary's. */
  get compare(): MirrorCompare | undefined {
    return this.opts.compare;
  }

  /** Copies collecting a body or waiting for the mirror's answer. */
  get inFlight(): number {
    return this.pending;
  }

  /**
   * Starts a copy of `req`, or returns null when the request is not sampled or too many copies
   * are pending. With `hasBody` the copy leaves once its body tee ends; without, right away.
   * Never throws.
   */
  begin(req: MirrorRequest, hasBody: boolean): MirrorCopy | null {
    if (!shouldMirror(this.probability, this.opts.random)) return null;
    if (this.pending >= this.opts.maxInFlight) {
      this.skip("overloaded");
      return null;
    }
    this.pending++;
    const pair = this.opts.compare?.store.pair(this.route, { method: req.method, path: req.path }) ?? NOOP_PAIR;
    // One copy of the headers, made now: the proxy goes on to change its own.
    const snapshot: MirrorRequest = { method: req.method, path: req.path, headers: mirrorHeaders(req.headers, this.hostSuffix, null) };
    let body: BodyTee | null = null;
    if (hasBody) {
      body = new BodyTee(this.opts.maxBodyBytes, (outcome) => this.bodyDone(snapshot, outcome, pair));
    } else {
      later(() => this.send(snapshot, null, pair));
    }
    return {
      body,
      primaryResponse: (digest) => pair.primary(digest),
      primaryFailed: () => pair.abandon(),
    };
  }

  private bodyDone(req: MirrorRequest, outcome: TeeOutcome, pair: ShadowPair): void {
    if (outcome.kind === "complete") {
      later(() => this.send(req, outcome, pair));
      return;
    }
    this.pending--;
    pair.abandon();
    this.skip(outcome.kind === "too_large" ? "body_too_large" : "body_aborted");
  }

  private send(req: MirrorRequest, body: { chunks: Buffer[]; bytes: number } | null, pair: ShadowPair): void {
    let stream: Readable | null = null;
    if (body !== null && body.bytes > 0) {
      stream = new Readable({ read() {} });
      for (const chunk of body.chunks) stream.push(chunk);
      stream.push(null);
    }
    const headers = req.headers;
    if (body !== null) {
      // The collected body goes with its exact length.
      delete headers["transfer-encoding"];
      headers["content-length"] = String(body.bytes);
    }
    const compare = this.opts.compare;
    const hasher = compare === undefined || compare.maxHashBytes <= 0 ? null : new BoundedHasher(compare.maxHashBytes);
    const exchange = new MirrorExchange(this.opts.timeoutMs, hasher, (result) => this.settle(result, pair));
    try {
      this.count(() => this.opts.metrics.sent(this.route));
      this.opts.pool.dispatch({ method: req.method, path: req.path, headers, body: stream }, exchange);
    } catch (err) {
      exchange.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private settle(result: ExchangeResult, pair: ShadowPair): void {
    this.pending--;
    if (result.kind === "failed") {
      pair.abandon();
      this.count(() => this.opts.metrics.failed(this.route, result.failure));
      return;
    }
    const compare = this.opts.compare;
    if (compare !== undefined) {
      pair.mirror({
        status: result.status,
        headers: selectHeaders(result.headers, compare.store.headerNames),
        bodySha256: result.bodySha256,
      });
    }
    if (result.status >= 500) this.count(() => this.opts.metrics.failed(this.route, "status_5xx"));
  }

  private skip(reason: MirrorSkipReason): void {
    this.count(() => this.opts.metrics.skipped(this.route, reason));
  }

  /** Metrics are someone else's code: whatever they throw stays here. */
  private count(call: () => void): void {
    try {
      call();
    } catch {
      // A broken metrics sink must not reach the proxy.
    }
  }
}

type ExchangeResult =
  | { kind: "answered"; status: number; headers: IncomingHttpHeaders; bodySha256: string | null }
  | { kind: "failed"; failure: MirrorFailureKind };

/** The dispatch handler of one copy: reads the response to its end, keeping only a hash. */
class MirrorExchange implements H1DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private readonly timer: NodeJS.Timeout;
  /** Made on expiry only: an Error captures a stack, too dear to make for every copy. */
  private timeoutError: MirrorTimeoutError | undefined;
  private timedOut = false;
  private done = false;
  private status = 0;
  private headers: IncomingHttpHeaders = {};

  constructor(
    private readonly timeoutMs: number,
    private readonly hasher: BoundedHasher | null,
    private readonly onDone: (result: ExchangeResult) => void,
  ) {
    this.timer = setTimeout(() => this.expire(), timeoutMs);
    this.timer.unref();
  }

  onRequestQueued(controller: Dispatcher.DispatchController): void {
    this.adopt(controller);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.adopt(controller);
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    this.status = status;
    this.headers = headers;
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.hasher?.update(chunk);
  }

  onResponseEnd(): void {
    this.finish({ kind: "answered", status: this.status, headers: this.headers, bodySha256: this.hasher?.digest() ?? null });
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.fail(err);
  }

  fail(err: Error): void {
    let failure: MirrorFailureKind = "error";
    if (err instanceof MirrorTimeoutError) failure = "timeout";
    else if (CONNECT_CODES.has((err as Error & { code?: string }).code ?? "")) failure = "connect";
    this.finish({ kind: "failed", failure });
  }

  private adopt(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.timedOut && !this.done) controller.abort(this.timeoutError ?? new MirrorTimeoutError(this.timeoutMs));
  }

  private expire(): void {
    this.timedOut = true;
    if (this.done) return;
    this.timeoutError = new MirrorTimeoutError(this.timeoutMs);
    if (this.controller !== null) this.controller.abort(this.timeoutError);
  }

  private finish(result: ExchangeResult): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.onDone(result);
  }
}
