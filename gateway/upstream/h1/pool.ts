// A lean HTTP/1.1 keep-alive client for one upstream endpoint. It speaks undici 7's dispatch
// handler API, so the proxy can use it or undici's Pool by configuration: up to `connections`
// sockets, one request at a time on each, a FIFO queue beyond that.
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { type ConnectionOwner, type ConnectionSettings, H1Connection } from "./connection.js";
import { CLOSED, DESTROYED, H1ClientError } from "./errors.js";
import { Fifo } from "./queue.js";
import { H1Request, type RequestQueueOwner } from "./request.js";
import { serializeRequestHead } from "./request-head.js";

export interface H1PoolOptions {
  connections: number;
  connectTimeoutMs: number;
  /** An idle connection is closed after this long; 0 leaves it to the server. */
  idleTimeoutMs: number;
  /** Default 64 KiB. */
  maxResponseHeaderBytes?: number;
}

export interface H1DispatchOptions {
  path: string;
  method: string;
  headers: Record<string, string>;
  body: Readable | null;
  /** false: a reused connection that closes before any response byte fails the request instead of resending it. */
  resendIfStale?: boolean;
}

/**
 * undici's handler, plus one optional call undici does not make: `onRequestQueued` hands over
 * the controller when the request has to wait for a connection, so the caller can abort it
 * there (it leaves the queue at once) instead of at `onRequestStart`.
 */
export interface H1DispatchHandler extends Dispatcher.DispatchHandler {
  onRequestQueued?(controller: Dispatcher.DispatchController): void;
}

export interface H1PoolStats {
  connected: number;
  free: number;
  pending: number;
  running: number;
}

export class H1Pool implements ConnectionOwner, RequestQueueOwner {
  readonly idleTimeoutMs: number;
  private readonly settings: ConnectionSettings;
  private readonly maxConnections: number;
  private readonly hostHeader: string;
  private readonly connections = new Set<H1Connection>();
  /** Idle connections, most recently used last: reuse keeps warm sockets, the rest idle out. */
  private readonly free: H1Connection[] = [];
  private readonly queue = new Fifo<H1Request>();
  private connectedCount = 0;
  private connectingCount = 0;
  /** Connections being opened for one retried request each, not for the queue. */
  private reservedCount = 0;
  private closing = false;
  private destroyed = false;
  private closeWaiters: (() => void)[] = [];

  constructor(host: string, port: number, opts: H1PoolOptions) {
    this.idleTimeoutMs = opts.idleTimeoutMs;
    this.maxConnections = Math.max(1, opts.connections);
    this.hostHeader = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    this.settings = {
      host,
      port,
      connectTimeoutMs: opts.connectTimeoutMs,
      maxResponseHeaderBytes: opts.maxResponseHeaderBytes ?? 64 * 1024,
    };
  }

  /** Sends a request; the handler hears the rest. False when it had to wait in the queue. */
  dispatch(opts: H1DispatchOptions, handler: H1DispatchHandler): boolean {
    const body = opts.body ?? null;
    const req = new H1Request(this, opts.method, body, handler);
    if (opts.resendIfStale === false) req.resendIfStale = false;
    const head = serializeRequestHead(opts.method, opts.path, opts.headers, this.hostHeader, body !== null, req);
    if (typeof head !== "string") {
      req.fail(head);
      return false;
    }
    if (this.closing) {
      req.fail(
        this.destroyed
          ? new H1ClientError("the pool was destroyed", DESTROYED)
          : new H1ClientError("the pool is closed", CLOSED),
      );
      return false;
    }
    req.head = head;
    if (this.queue.length === 0) {
      const conn = this.free.pop();
      if (conn !== undefined) {
        conn.start(req);
        return true;
      }
    }
    this.queue.push(req);
    handler.onRequestQueued?.(req);
    this.openForQueue();
    return false;
  }

  get stats(): H1PoolStats {
    let running = 0;
    for (const conn of this.connections) if (conn.request !== null) running++;
    return {
      connected: this.connectedCount,
      free: this.free.length,
      pending: this.queue.length + this.reservedCount,
      running,
    };
  }

  /** Lets queued and running requests finish, then closes every connection. */
  close(): Promise<void> {
    this.closing = true;
    return this.whenClosed();
  }

  /** Fails queued and running requests and closes every connection now. */
  destroy(): Promise<void> {
    this.closing = true;
    this.destroyed = true;
    const err = new H1ClientError("the pool was destroyed", DESTROYED);
    for (const req of this.queue.drain()) req.fail(err);
    for (const conn of [...this.connections]) {
      const reserved = conn.reserved;
      if (reserved !== null) {
        conn.reserved = null;
        this.reservedCount--;
        reserved.fail(err);
      }
      conn.destroy(err);
    }
    return this.whenClosed();
  }

  connectionReady(conn: H1Connection): void {
    this.connectingCount--;
    this.connectedCount++;
    const reserved = conn.reserved;
    if (reserved !== null) {
      conn.reserved = null;
      this.reservedCount--;
      conn.start(reserved);
      return;
    }
    this.release(conn);
  }

  connectFailed(conn: H1Connection, err: Error): void {
    this.connections.delete(conn);
    this.connectingCount--;
    const reserved = conn.reserved;
    if (reserved !== null) {
      conn.reserved = null;
      this.reservedCount--;
      reserved.fail(err);
    }
    // Nothing else can serve the queue: the endpoint is unreachable for now, so say so to
    // every waiting request rather than let them wait for a connection that will not come.
    // Otherwise the open connections work the queue down; reconnecting here could spin.
    if (this.connectedCount === 0 && this.connectingCount === 0) {
      for (const req of this.queue.drain()) req.fail(err);
    }
    this.settleClose();
  }

  release(conn: H1Connection): void {
    const next = this.queue.shift();
    if (next !== undefined) {
      conn.start(next);
      return;
    }
    if (this.closing) {
      conn.destroy(null);
      return;
    }
    this.free.push(conn);
    conn.markIdle();
  }

  connectionClosed(conn: H1Connection, retry: H1Request | null): void {
    this.connections.delete(conn);
    this.connectedCount--;
    const at = this.free.lastIndexOf(conn);
    if (at !== -1) this.free.splice(at, 1);
    if (retry !== null) {
      // A new connection, not another idle one: those may be just as stale.
      if (this.destroyed) retry.fail(new H1ClientError("the pool was destroyed", DESTROYED));
      else this.open(retry);
    }
    this.openForQueue();
    this.settleClose();
  }

  cancelQueued(req: H1Request): void {
    if (!this.queue.remove(req)) {
      for (const conn of this.connections) {
        if (conn.reserved === req) {
          conn.reserved = null;
          this.reservedCount--;
          break;
        }
      }
    }
    this.settleClose();
  }

  private open(reserved: H1Request | null): void {
    const conn = new H1Connection(this, this.settings);
    this.connections.add(conn);
    this.connectingCount++;
    if (reserved !== null) {
      conn.reserved = reserved;
      this.reservedCount++;
    }
  }

  /** Opens connections for queued requests that no connection on its way will serve. */
  private openForQueue(): void {
    while (
      this.connections.size < this.maxConnections &&
      this.connectingCount - this.reservedCount < this.queue.length
    ) {
      this.open(null);
    }
  }

  private whenClosed(): Promise<void> {
    return new Promise((resolve) => {
      this.closeWaiters.push(resolve);
      this.settleClose();
    });
  }

  /** While closing: once no request is waiting, closes what is idle and wakes close() at the end. */
  private settleClose(): void {
    if (!this.closing || this.queue.length > 0 || this.reservedCount > 0) return;
    for (const conn of [...this.connections]) if (conn.request === null) conn.destroy(null);
    if (this.connections.size > 0) return;
    const waiters = this.closeWaiters;
    this.closeWaiters = [];
    for (const wake of waiters) wake();
  }
}
