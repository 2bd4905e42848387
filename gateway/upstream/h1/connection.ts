// One keep-alive connection to the upstream: it writes a request, parses the response, and goes
// back to its pool once both are done and the server allows reuse. Its socket listeners, parser
// and upload writer are made once and serve every request on it.
import type { IncomingHttpHeaders } from "node:http";
import { connect, type Socket } from "node:net";
import { CONNECT_TIMEOUT, H1ClientError, SOCKET } from "./errors.js";
import { keepAliveTimeoutMs } from "./header-values.js";
import { defer, type Flushable } from "../../write-batch.js";
import { type H1Request, RequestState } from "./request.js";
import { ResponseParser, type ResponseSink } from "./response-parser.js";
import { BodyUpload } from "./upload.js";

/** What a connection reports to its pool. */
export interface ConnectionOwner {
  readonly idleTimeoutMs: number;
  connectionReady(conn: H1Connection): void;
  connectFailed(conn: H1Connection, err: Error): void;
  /** The connection is reusable and has nothing to do. */
  release(conn: H1Connection): void;
  /** `retry`: a request to send again on a fresh connection. */
  connectionClosed(conn: H1Connection, retry: H1Request | null): void;
}

export interface ConnectionSettings {
  host: string;
  port: number;
  connectTimeoutMs: number;
  maxResponseHeaderBytes: number;
}

const NO_CONTEXT = Object.freeze({});
const EMPTY = Buffer.alloc(0);
// Reads land in a per-connection slab, each just after the last, so a small response does not
// cost a buffer allocation per read. The bytes of a response stay valid while it arrives; once it
// is complete the next response is read from the slab's start again, so a handler that keeps
// body chunks past the event-loop iteration of onResponseEnd must copy them. Reusing the slab
// matters: at 16 KiB responses a fresh slab every few responses was hundreds of MB/s of
// garbage, and resident memory grew with it.
const SLAB_BYTES = 64 * 1024;
const MIN_READ_BYTES = 16 * 1024;

// A function, so the compiler does not carry the state it saw before the handler ran.
function stillStarting(req: H1Request): boolean {
  return req.state === RequestState.Starting;
}

function closedEarly(): H1ClientError {
  return new H1ClientError("upstream closed the connection before the response was complete", SOCKET);
}

export class H1Connection implements ResponseSink, Flushable {
  connected = false;
  dead = false;
  /** A body-less request whose head waits for the end of this loop iteration. */
  private unwritten: H1Request | null = null;
  request: H1Request | null = null;
  /** A request this connection was opened for; it goes before the pool's queue. */
  reserved: H1Request | null = null;
  private readonly socket: Socket;
  private readonly parser: ResponseParser;
  private readonly upload: BodyUpload;
  private served = 0;
  private responseStarted = false;
  private parsing = false;
  private ended = false;
  private eofPending = false;
  private stash: Buffer | null = null;
  private stashAt = 0;
  private trailers: IncomingHttpHeaders = {};
  private slab: Buffer = EMPTY;
  private slabUsed = 0;
  private connectTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private idleMs: number;
  private lastKeepAliveHeader: string | undefined;

  constructor(
    private readonly owner: ConnectionOwner,
    settings: ConnectionSettings,
  ) {
    this.idleMs = owner.idleTimeoutMs;
    this.parser = new ResponseParser(this, settings.maxResponseHeaderBytes);
    const socket = connect({
      host: settings.host,
      port: settings.port,
      noDelay: true,
      onread: { buffer: this.nextReadBuffer, callback: this.onRead },
    });
    this.socket = socket;
    this.upload = new BodyUpload(socket, this.onUploadFinished);
    socket.on("connect", this.onConnect);
    socket.on("end", this.onEnd);
    socket.on("error", this.onError);
    socket.on("close", this.onClose);
    if (settings.connectTimeoutMs > 0) {
      const ms = settings.connectTimeoutMs;
      this.connectTimer = setTimeout(() => {
        this.connectTimer = undefined;
        this.teardown(new H1ClientError(`connect timeout after ${ms} ms`, CONNECT_TIMEOUT), false);
      }, ms);
    }
  }

  /** Sends `req` on this idle connection. */
  start(req: H1Request): void {
    this.request = req;
    req.conn = this;
    this.responseStarted = false;
    this.parser.reset(req.method === "HEAD");
    // A retried request already told its handler it started.
    if (!req.retried) {
      req.state = RequestState.Starting;
      try {
        req.handler.onRequestStart?.(req, NO_CONTEXT);
      } catch (err) {
        req.fail(err as Error);
      }
      if (!stillStarting(req)) {
        // Aborted before a byte was written: the connection is still clean.
        this.request = null;
        this.owner.release(this);
        return;
      }
    }
    req.state = RequestState.Active;
    if (req.body === null) {
      // Written with the other requests of this loop iteration (write-batch.ts).
      this.unwritten = req;
      defer(this);
    } else {
      this.upload.start(req.head, req.body, req);
    }
  }

  flush(): void {
    const req = this.unwritten;
    this.unwritten = null;
    // Aborted or torn down since start(): nothing of it may reach the upstream.
    if (req === null || this.dead || this.request !== req) return;
    this.socket.write(req.head, "latin1");
  }

  /** The request's controller was aborted while it held this connection. */
  abortRequest(req: H1Request): void {
    if (req.state === RequestState.Starting) return; // start() sees it and releases the connection
    if (this.request !== req) return;
    this.request = null;
    this.teardown(null, false);
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    const req = this.request;
    if (req === null || this.dead) return;
    if (this.parsing) {
      // Resumed from inside a handler callback: the running parse goes on by itself.
      this.socket.resume();
      return;
    }
    const stash = this.stash;
    this.stash = null;
    // Even with nothing stashed, a message halted right after its last byte completes here.
    this.run(stash ?? EMPTY, stash === null ? 0 : this.stashAt);
    if (this.dead) return;
    if (this.request === req && req.paused) return;
    if (this.eofPending) {
      this.eofPending = false;
      this.atEof();
      return;
    }
    this.socket.resume();
  }

  /** Arms the idle timer; the pool calls this when the connection joins its free list. */
  markIdle(): void {
    if (this.idleMs <= 0) return;
    if (this.idleTimer === undefined) {
      this.idleTimer = setTimeout(this.onIdleTimeout, this.idleMs);
      this.idleTimer.unref();
    } else {
      this.idleTimer.refresh();
    }
  }

  /** Closes the connection now; a request on it fails with `err`. */
  destroy(err: Error | null): void {
    this.teardown(err, false);
  }

  get halted(): boolean {
    const req = this.request;
    return req === null || req.paused;
  }

  onHead(status: number, reason: string, headers: IncomingHttpHeaders): void {
    const req = this.request as H1Request;
    req.highBytes = this.parser.highBytes;
    req.handler.onResponseStart?.(req, status, headers, reason);
  }

  onBody(chunk: Buffer): void {
    const req = this.request as H1Request;
    req.handler.onResponseData?.(req, chunk);
  }

  onComplete(trailers: IncomingHttpHeaders): void {
    this.trailers = trailers;
  }

  private readonly onConnect = (): void => {
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.connected = true;
    this.owner.connectionReady(this);
  };

  /** Where the next read goes: the rest of the slab, or a fresh slab when little is left. */
  private readonly nextReadBuffer = (): Buffer => {
    if (this.slab.length - this.slabUsed < MIN_READ_BYTES) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.slabUsed = 0;
    }
    return this.slab.subarray(this.slabUsed);
  };

  private readonly onRead = (length: number, into: Buffer): boolean => {
    this.slabUsed += length;
    this.onData(into.subarray(0, length));
    return true;
  };

  private onData(buf: Buffer): void {
    if (this.dead) return;
    const req = this.request;
    if (req === null) {
      // Bytes nobody asked for: this connection is out of step with the server.
      this.teardown(null, false);
      return;
    }
    this.responseStarted = true;
    if (this.stash !== null || req.paused) {
      this.keep(buf, 0);
      return;
    }
    this.run(buf, 0);
  }

  private run(buf: Buffer, start: number): void {
    const req = this.request as H1Request;
    let stop: number;
    this.parsing = true;
    try {
      stop = this.parser.execute(buf, start);
    } catch (err) {
      // A handler callback threw: the request cannot go on, and the process should not crash.
      this.parsing = false;
      if (this.request === req) {
        this.request = null;
        this.teardown(null, false);
        req.fail(err as Error);
      }
      return;
    }
    this.parsing = false;
    if (stop < 0) {
      this.teardown(this.parser.error, false);
      return;
    }
    if (this.request !== req) return; // aborted from a callback; already torn down
    if (this.parser.done) this.complete(req, stop < buf.length);
    else if (stop < buf.length) this.keep(buf, stop);
  }

  /** Holds unparsed bytes while the consumer is paused, and stops reading more. */
  private keep(buf: Buffer, at: number): void {
    if (this.stash === null) {
      this.stash = buf;
      this.stashAt = at;
    } else {
      this.stash = Buffer.concat([this.stash.subarray(this.stashAt), buf.subarray(at)]);
      this.stashAt = 0;
    }
    this.socket.pause();
  }

  /**
   * The response is complete. The connection is released first, so a handler that dispatches
   * from onResponseEnd finds it free.
   */
  private complete(req: H1Request, extraBytes: boolean): void {
    this.request = null;
    req.conn = null;
    req.state = RequestState.Ending;
    this.served++;
    // Nothing unparsed is held from the slab: the next response may start at its beginning.
    if (this.stash === null) this.slabUsed = 0;
    if (this.parser.keepAlive && !extraBytes && !this.upload.active && !this.ended) {
      this.adoptServerIdleTimeout();
      this.owner.release(this);
    } else {
      this.teardown(null, false);
    }
    req.end(this.trailers);
  }

  /** A server that announces `Keep-Alive: timeout=N` closes idle sockets then: close first. */
  private adoptServerIdleTimeout(): void {
    const header = this.parser.keepAliveHeader;
    if (header === undefined || header === this.lastKeepAliveHeader) return;
    this.lastKeepAliveHeader = header;
    const serverMs = keepAliveTimeoutMs(header);
    if (serverMs <= 0) return;
    const margin = Math.max(serverMs - 1000, serverMs / 2);
    const configured = this.owner.idleTimeoutMs;
    const ms = configured > 0 ? Math.min(configured, margin) : margin;
    if (ms === this.idleMs) return;
    this.idleMs = ms;
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private readonly onUploadFinished = (err: Error | null): void => {
    if (err === null) {
      // The response may have come first (an early answer): then nothing else uses the socket.
      if (this.request === null && !this.dead) this.teardown(null, false);
      return;
    }
    this.teardown(err, false);
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    if (this.dead) return;
    // Bytes still wait for a paused consumer: the end of the stream comes after them.
    if (this.stash !== null || this.request?.paused === true) {
      this.eofPending = true;
      return;
    }
    this.atEof();
  };

  private atEof(): void {
    const req = this.request;
    if (req !== null && this.parser.finishAtEof()) {
      this.complete(req, false);
      return;
    }
    this.teardown(req === null ? null : closedEarly(), true);
  }

  private readonly onError = (err: Error): void => {
    if (this.dead) return;
    // Before the connection exists, Node's own error (ECONNREFUSED...) is the one to report.
    const reported = this.connected ? new H1ClientError(`upstream connection error: ${err.message}`, SOCKET, err) : err;
    this.teardown(reported, true);
  };

  private readonly onClose = (): void => {
    if (!this.dead) this.teardown(closedEarly(), true);
  };

  private readonly onIdleTimeout = (): void => {
    if (this.request === null && !this.dead) this.teardown(null, false);
  };

  /**
   * Closes the connection and settles its request: `err` fails it, unless `mayRetry` and the
   * request qualifies for one more try (no body, a reused connection, no response byte yet).
   */
  private teardown(err: Error | null, mayRetry: boolean): void {
    if (this.dead) return;
    this.dead = true;
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.upload.stop();
    this.stash = null;
    this.socket.destroy();
    const req = this.request;
    this.request = null;
    if (!this.connected) {
      this.owner.connectFailed(this, err ?? closedEarly());
      return;
    }
    const retry =
      req !== null &&
      mayRetry &&
      req.body === null &&
      this.served > 0 &&
      !this.responseStarted &&
      !req.retried &&
      req.resendIfStale &&
      req.state === RequestState.Active;
    if (retry) {
      req.retried = true;
      req.conn = null;
      req.state = RequestState.Queued;
    }
    this.owner.connectionClosed(this, retry ? req : null);
    if (req !== null && !retry) req.fail(err ?? closedEarly());
  }
}
