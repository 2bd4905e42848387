// A lean HTTP/1.1 keep-alive client for one upstream endpoint, speaking undici 7's dispatch
// handler API so the proxy can use it or undici's Pool interchangeably. It does only what a
// reverse proxy needs: one request per connection at a time, streaming both ways, strict framing.
import { connect, type Socket } from "node:net";
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { parseHead, type ResponseHead } from "./h1-parse.js";

export interface H1PoolOptions {
  connections: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  maxResponseHeaderBytes?: number;
}

export interface H1DispatchOptions {
  path: string;
  method: string;
  headers: Record<string, string>;
  body: Readable | null;
}

class UpstreamError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

enum Body {
  None,
  Length,
  Chunked,
  UntilClose,
}

enum ChunkState {
  Size,
  Data,
  DataEnd,
  Trailers,
}

/** One request's life on the pool; also the handler's controller. */
class Exchange implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  conn: Connection | undefined;
  done = false;
  retried = false;

  constructor(
    readonly pool: H1Pool,
    readonly opts: H1DispatchOptions,
    readonly handler: Dispatcher.DispatchHandler,
  ) {}

  abort(reason: Error): void {
    if (this.done) return;
    this.aborted = true;
    this.reason = reason;
    if (this.conn === undefined) this.pool.dequeue(this);
    else this.conn.destroy(reason);
    this.fail(reason);
  }

  pause(): void {
    this.paused = true;
    this.conn?.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const conn = this.conn;
    if (conn === undefined) return;
    conn.socket.resume();
    conn.drainStash();
  }

  fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.handler.onResponseError?.(this, err);
  }
}

class Connection {
  readonly socket: Socket;
  ready = false;
  served = 0;
  exchange: Exchange | undefined;
  private head: Buffer | undefined;
  private response: ResponseHead | undefined;
  private body = Body.None;
  private remaining = 0;
  private chunkState = ChunkState.Size;
  private sizeLine = "";
  private trailerLine = "";
  private keepAlive = true;
  private sawBytes = false;
  private stash: Buffer | undefined;
  private closed = false;

  constructor(
    private readonly pool: H1Pool,
    host: string,
    port: number,
  ) {
    const socket = connect({ host, port, noDelay: true });
    this.socket = socket;
    const timer = setTimeout(
      () =>
        this.destroy(new UpstreamError(`connect to ${host}:${port} timed out`, "UND_ERR_CONNECT_TIMEOUT")),
      pool.opts.connectTimeoutMs,
    );
    socket.once("connect", () => {
      clearTimeout(timer);
      this.ready = true;
      pool.connected(this);
    });
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("end", () => this.onClose(undefined));
    socket.on("error", (err) => {
      clearTimeout(timer);
      this.onClose(err);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      this.onClose(undefined);
    });
    socket.on("timeout", () => this.destroy(undefined));
  }

  start(ex: Exchange): void {
    this.exchange = ex;
    ex.conn = this;
    this.head = undefined;
    this.response = undefined;
    this.sawBytes = false;
    this.socket.setTimeout(0);
    ex.handler.onRequestStart?.(ex, {});
    if (ex.done) return;
    const { method, path, headers, body } = ex.opts;
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let hasLength = false;
    for (const name in headers) {
      const value = headers[name];
      if (value === undefined) continue;
      if (/[\r\n]/.test(value) || /[\r\n:]/.test(name)) {
        ex.fail(new UpstreamError(`invalid header ${name}`, "UND_ERR_INVALID_ARG"));
        this.release();
        return;
      }
      if (name === "content-length") hasLength = true;
      head += `${name}: ${value}\r\n`;
    }
    if (headers["host"] === undefined) head += `host: ${this.pool.authority}\r\n`;
    if (body === null) {
      this.socket.write(`${head}\r\n`, "latin1");
      return;
    }
    const chunked = !hasLength;
    this.socket.write(chunked ? `${head}transfer-encoding: chunked\r\n\r\n` : `${head}\r\n`, "latin1");
    this.pipeBody(ex, body, chunked);
  }

  private pipeBody(ex: Exchange, body: Readable, chunked: boolean): void {
    const socket = this.socket;
    const onData = (chunk: Buffer) => {
      if (ex.done || this.exchange !== ex) return;
      let ok: boolean;
      if (chunked) {
        // All three writes must happen whatever the buffer says; only the last one tells.
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`, "latin1");
        socket.write(chunk);
        ok = socket.write("\r\n", "latin1");
        socket.uncork();
      } else {
        ok = socket.write(chunk);
      }
      if (!ok) {
        body.pause();
        socket.once("drain", () => body.resume());
      }
    };
    body.on("data", onData);
    body.once("end", () => {
      if (chunked && !ex.done && this.exchange === ex) socket.write("0\r\n\r\n");
    });
    body.once("error", (err) => {
      body.off("data", onData);
      if (!ex.done) {
        this.destroy(err);
      }
    });
  }

  private onData(chunk: Buffer): void {
    const ex = this.exchange;
    if (ex === undefined || ex.done) {
      // Bytes with no request outstanding break HTTP/1.1 framing: never reuse this socket.
      this.destroy(undefined);
      return;
    }
    this.sawBytes = true;
    this.process(ex, chunk);
  }

  drainStash(): void {
    const ex = this.exchange;
    const stash = this.stash;
    if (ex === undefined || stash === undefined) return;
    this.stash = undefined;
    this.process(ex, stash);
  }

  private process(ex: Exchange, chunk: Buffer): void {
    let data = chunk;
    if (this.response === undefined) {
      const head = this.head === undefined ? data : Buffer.concat([this.head, data]);
      for (;;) {
        const parsed = parseHead(head, this.pool.opts.maxResponseHeaderBytes ?? 65536);
        if (parsed === "incomplete") {
          this.head = head;
          return;
        }
        if (typeof parsed === "string") {
          this.destroy(new UpstreamError(`malformed upstream response: ${parsed}`, "HPE_INVALID"));
          return;
        }
        data = head.subarray(parsed.length);
        if (parsed.status >= 100 && parsed.status < 200 && parsed.status !== 101) {
          this.head = data.length > 0 ? data : undefined;
          if (data.length === 0) return;
          continue;
        }
        this.head = undefined;
        if (!this.startResponse(ex, parsed)) return;
        break;
      }
    }
    this.consumeBody(ex, data);
  }

  private startResponse(ex: Exchange, r: ResponseHead): boolean {
    this.response = r;
    const method = ex.opts.method;
    const te = r.headers["transfer-encoding"];
    const cl = r.headers["content-length"];
    this.keepAlive = r.keepAlive;
    if (method === "HEAD" || r.status === 204 || r.status === 304) {
      this.body = Body.None;
    } else if (te !== undefined) {
      if (!/(?:^|,)\s*chunked\s*$/i.test(String(te))) {
        this.body = Body.UntilClose;
        this.keepAlive = false;
      } else {
        this.body = Body.Chunked;
        this.chunkState = ChunkState.Size;
        this.sizeLine = "";
        // Both framings present is a smuggling signal: trust chunked, then drop the socket.
        if (cl !== undefined) this.keepAlive = false;
      }
    } else if (cl !== undefined) {
      if (!/^\d{1,15}$/.test(String(cl))) {
        this.destroy(new UpstreamError("invalid content-length from upstream", "HPE_INVALID"));
        return false;
      }
      this.body = Body.Length;
      this.remaining = Number(cl);
    } else {
      this.body = Body.UntilClose;
      this.keepAlive = false;
    }
    ex.handler.onResponseStart?.(ex, r.status, r.headers, r.reason);
    if (ex.done) return false;
    if (this.body === Body.None || (this.body === Body.Length && this.remaining === 0)) {
      this.complete(ex);
      return false;
    }
    return true;
  }

  private deliver(ex: Exchange, part: Buffer): void {
    if (part.length > 0) ex.handler.onResponseData?.(ex, part);
  }

  private consumeBody(ex: Exchange, data: Buffer): void {
    let buf = data;
    while (buf.length > 0) {
      if (ex.done || this.exchange !== ex) return;
      if (ex.paused) {
        this.stash = this.stash === undefined ? buf : Buffer.concat([this.stash, buf]);
        return;
      }
      switch (this.body) {
        case Body.UntilClose:
          this.deliver(ex, buf);
          return;
        case Body.Length: {
          const take = Math.min(this.remaining, buf.length);
          this.remaining -= take;
          const part = buf.subarray(0, take);
          buf = buf.subarray(take);
          this.deliver(ex, part);
          if (this.remaining === 0) {
            if (buf.length > 0) this.keepAlive = false;
            this.complete(ex);
            return;
          }
          break;
        }
        case Body.Chunked:
          buf = this.consumeChunked(ex, buf);
          break;
        default:
          return;
      }
    }
  }

  /** Advances the chunked decoder over `buf`; returns what is left to process. */
  private consumeChunked(ex: Exchange, buf: Buffer): Buffer {
    switch (this.chunkState) {
      case ChunkState.Size: {
        const nl = buf.indexOf(10);
        if (nl < 0) {
          this.sizeLine += buf.toString("latin1");
          if (this.sizeLine.length > 1024)
            this.destroy(new UpstreamError("chunk size line too long", "HPE_INVALID"));
          return Buffer.alloc(0);
        }
        const line = (this.sizeLine + buf.toString("latin1", 0, nl)).replace(/\r$/, "");
        this.sizeLine = "";
        const size = Number.parseInt(line.split(";")[0]?.trim() ?? "", 16);
        if (!/^[0-9a-fA-F]+/.test(line) || Number.isNaN(size)) {
          this.destroy(new UpstreamError("invalid chunk size", "HPE_INVALID"));
          return Buffer.alloc(0);
        }
        this.remaining = size;
        this.chunkState = size === 0 ? ChunkState.Trailers : ChunkState.Data;
        return buf.subarray(nl + 1);
      }
      case ChunkState.Data: {
        const take = Math.min(this.remaining, buf.length);
        this.remaining -= take;
        this.deliver(ex, buf.subarray(0, take));
        if (this.remaining === 0) this.chunkState = ChunkState.DataEnd;
        return buf.subarray(take);
      }
      case ChunkState.DataEnd: {
        const nl = buf.indexOf(10);
        if (nl < 0) return Buffer.alloc(0);
        this.chunkState = ChunkState.Size;
        return buf.subarray(nl + 1);
      }
      case ChunkState.Trailers: {
        const nl = buf.indexOf(10);
        if (nl < 0) {
          this.trailerLine += buf.toString("latin1");
          return Buffer.alloc(0);
        }
        const line = (this.trailerLine + buf.toString("latin1", 0, nl)).replace(/\r$/, "");
        this.trailerLine = "";
        const rest = buf.subarray(nl + 1);
        if (line.length === 0) {
          if (rest.length > 0) this.keepAlive = false;
          this.complete(ex);
          return Buffer.alloc(0);
        }
        return rest;
      }
    }
  }

  private complete(ex: Exchange): void {
    ex.done = true;
    this.served++;
    this.exchange = undefined;
    ex.conn = undefined;
    this.response = undefined;
    ex.handler.onResponseEnd?.(ex, {});
    if (this.keepAlive && !this.closed) this.release();
    else this.destroy(undefined);
  }

  private release(): void {
    this.exchange = undefined;
    if (this.socket.isPaused()) this.socket.resume();
    this.pool.released(this);
  }

  goIdle(): void {
    this.socket.setTimeout(this.pool.opts.idleTimeoutMs);
  }

  destroy(err: Error | undefined): void {
    if (!this.closed) this.socket.destroy();
    this.onClose(err);
  }

  private onClose(err: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.socket.destroyed) this.socket.destroy();
    const ex = this.exchange;
    this.exchange = undefined;
    this.pool.removed(this, err);
    if (ex === undefined || ex.done) return;
    ex.conn = undefined;
    if (this.body === Body.UntilClose && this.response !== undefined && err === undefined) {
      ex.done = true;
      ex.handler.onResponseEnd?.(ex, {});
      return;
    }
    // A reused connection that the upstream closed before answering raced its keep-alive
    // timeout: a body-less request is sent again once, on a fresh connection.
    if (!this.sawBytes && this.served > 0 && ex.opts.body === null && !ex.retried && err === undefined) {
      ex.retried = true;
      this.pool.enqueueFront(ex);
      return;
    }
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    ex.fail(
      err instanceof UpstreamError || (code !== undefined && code !== "ECONNRESET" && code !== "EPIPE")
        ? (err as Error)
        : new UpstreamError(
            `upstream closed the connection${err ? `: ${err.message}` : ""}`,
            "UND_ERR_SOCKET",
          ),
    );
  }
}

export class H1Pool {
  readonly authority: string;
  private readonly all = new Set<Connection>();
  private readonly free: Connection[] = [];
  private readonly queue: Exchange[] = [];
  private connecting = 0;
  private closing = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    readonly opts: H1PoolOptions,
  ) {
    this.authority = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  }

  dispatch(opts: H1DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const ex = new Exchange(this, opts, handler);
    const conn = this.free.pop();
    if (conn !== undefined) conn.start(ex);
    else {
      this.queue.push(ex);
      this.grow();
    }
    return true;
  }

  get stats(): { connected: number; free: number; pending: number; running: number } {
    return {
      connected: this.all.size - this.connecting,
      free: this.free.length,
      pending: this.queue.length,
      running: this.all.size - this.free.length - this.connecting,
    };
  }

  private grow(): void {
    if (this.closing) return;
    while (this.queue.length > this.connecting && this.all.size < this.opts.connections) {
      const conn = new Connection(this, this.host, this.port);
      this.all.add(conn);
      this.connecting++;
    }
  }

  connected(conn: Connection): void {
    this.connecting--;
    this.released(conn);
  }

  released(conn: Connection): void {
    const next = this.queue.shift();
    if (next !== undefined) conn.start(next);
    else if (this.closing) conn.destroy(undefined);
    else {
      conn.goIdle();
      this.free.push(conn);
    }
  }

  removed(conn: Connection, err: Error | undefined): void {
    if (!this.all.delete(conn)) return;
    if (!conn.ready) {
      this.connecting--;
      // A failed connect fails the oldest waiting request rather than leaving it queued forever.
      const waiting = this.queue.shift();
      if (waiting !== undefined && !waiting.done) {
        const failure =
          err instanceof UpstreamError || (err as NodeJS.ErrnoException | undefined)?.code !== undefined
            ? (err as Error)
            : new UpstreamError(`connect to ${this.authority} failed`, "ECONNREFUSED");
        waiting.fail(failure);
      }
      this.grow();
      return;
    }
    const i = this.free.indexOf(conn);
    if (i >= 0) this.free.splice(i, 1);
    this.grow();
  }

  dequeue(ex: Exchange): void {
    const i = this.queue.indexOf(ex);
    if (i >= 0) this.queue.splice(i, 1);
  }

  enqueueFront(ex: Exchange): void {
    this.queue.unshift(ex);
    const conn = this.free.pop();
    if (conn !== undefined) this.released(conn);
    else this.grow();
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const conn of this.free.splice(0)) conn.destroy(undefined);
  }

  async destroy(): Promise<void> {
    this.closing = true;
    for (const ex of this.queue.splice(0)) ex.fail(new UpstreamError("pool destroyed", "UND_ERR_DESTROYED"));
    for (const conn of [...this.all]) conn.destroy(undefined);
  }
}
