// Helpers for the h1 upstream client's tests: a handler that records what it was told, and raw
// TCP servers whose bytes a test scripts exactly.
import { spawn } from "node:child_process";
import type { IncomingHttpHeaders } from "node:http";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import type { H1Pool } from "../../gateway/upstream/h1/pool.js";

export type CodedError = Error & { code?: string };

export interface Outcome {
  status: number;
  reason: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  trailers: IncomingHttpHeaders | undefined;
  error: CodedError | undefined;
  /** Handler calls in order: start, head, data, end, error. */
  events: string[];
}

/** A dispatch handler that keeps everything it hears; `outcome` settles at the end or error. */
export class Recorder implements Dispatcher.DispatchHandler {
  controller: Dispatcher.DispatchController | undefined;
  readonly events: string[] = [];
  readonly chunks: Buffer[] = [];
  status = 0;
  reason = "";
  headers: IncomingHttpHeaders = {};
  trailers: IncomingHttpHeaders | undefined;
  error: CodedError | undefined;
  readonly outcome: Promise<Outcome>;
  private settle!: (o: Outcome) => void;

  constructor() {
    this.outcome = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.events.push("start");
  }

  onResponseStart(
    _c: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
    reason?: string,
  ): void {
    this.events.push("head");
    this.status = status;
    this.headers = headers;
    this.reason = reason ?? "";
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.events[this.events.length - 1] !== "data") this.events.push("data");
    this.chunks.push(chunk);
  }

  onResponseEnd(_c: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.events.push("end");
    this.trailers = trailers;
    this.settle(this.snapshot());
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.events.push("error");
    this.error = err;
    this.settle(this.snapshot());
  }

  private snapshot(): Outcome {
    return {
      status: this.status,
      reason: this.reason,
      headers: this.headers,
      body: Buffer.concat(this.chunks),
      trailers: this.trailers,
      error: this.error,
      events: this.events,
    };
  }
}

export interface RequestSpec {
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: Readable | null;
}

/** Dispatches one request and waits for its end or error. */
export function send(pool: H1Pool, spec: RequestSpec = {}, recorder = new Recorder()): Promise<Outcome> {
  pool.dispatch(
    { path: spec.path ?? "/", method: spec.method ?? "GET", headers: spec.headers ?? {}, body: spec.body ?? null },
    recorder,
  );
  return recorder.outcome;
}

export interface ScriptedServer {
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/** A raw TCP server on 127.0.0.1; `onSocket` writes whatever bytes the test wants. */
export async function scriptedServer(onSocket: (socket: Socket, index: number) => void): Promise<ScriptedServer> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    onSocket(socket, count++);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return count;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Calls `onHead` with each request head (text before the blank line) the socket receives. */
export function onRequestHeads(socket: Socket, onHead: (head: string, index: number) => void): void {
  let pending = "";
  let index = 0;
  socket.on("data", (chunk: Buffer) => {
    pending += chunk.toString("latin1");
    for (let end = pending.indexOf("\r\n\r\n"); end !== -1; end = pending.indexOf("\r\n\r\n")) {
      const head = pending.slice(0, end);
      pending = pending.slice(end + 4);
      onHead(head, index++);
    }
  });
}

/** Writes `bytes` one at a time, each in its own TCP segment. */
export async function dribble(socket: Socket, bytes: string): Promise<void> {
  socket.setNoDelay(true);
  for (const byte of Buffer.from(bytes, "latin1")) {
    if (socket.destroyed) return;
    socket.write(Buffer.of(byte));
    await new Promise((r) => setTimeout(r, 1));
  }
}

/**
 * A listener whose accept queue is full, so a new connection's SYN goes unanswered: a child
 * process listens with a backlog of 1 and then blocks its event loop so it never accepts, and
 * this process fills the queue. Deterministic on loopback, unlike an unroutable address.
 */
export async function unansweredListener(): Promise<{ port: number; close(): void }> {
  const script = `
    const s = require("node:net").createServer();
    s.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
      const blockForever = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      process.stdout.write(s.address().port + "\\n", blockForever);
    });`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  const fillers: Socket[] = [];
  for (let i = 0; i < 16; i++) {
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => {});
    fillers.push(socket);
    const connected = await new Promise<boolean>((resolve) => {
      socket.once("connect", () => resolve(true));
      setTimeout(() => resolve(false), 300);
    });
    if (!connected) break;
  }
  return {
    port,
    close() {
      for (const s of fillers) s.destroy();
      child.kill("SIGKILL");
    },
  };
}
