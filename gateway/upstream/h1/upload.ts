// Streams a request body onto a connection's socket: exactly Content-Length bytes, or chunked.
// One per connection, reused for every request; its listeners are bound once.
import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import { H1ClientError, LENGTH_MISMATCH } from "./errors.js";
import type { BodyFraming } from "./request-head.js";

type BodyChunk = Buffer | Uint8Array | string;

export class BodyUpload {
  private body: Readable | null = null;
  private framing: BodyFraming = { contentLength: -1, chunked: false };
  private sent = 0;
  private waitingForDrain = false;

  /** `finished(null)` once the whole body is on the socket; `finished(err)` when it cannot be. */
  constructor(
    private readonly socket: Socket,
    private readonly finished: (err: Error | null) => void,
  ) {
    socket.on("drain", this.onDrain);
  }

  /** True while a body is still being written. */
  get active(): boolean {
    return this.body !== null;
  }

  /** Writes `head` and, when the body already has data buffered, its first chunk with it. */
  start(head: string, body: Readable, framing: BodyFraming): void {
    const socket = this.socket;
    if (body.destroyed) {
      this.finished(body.errored ?? new Error("the request body was destroyed before it was sent"));
      return;
    }
    this.body = body;
    this.framing = framing;
    this.sent = 0;
    this.waitingForDrain = false;
    socket.cork();
    socket.write(head, "latin1");
    if (body.readableEnded) {
      this.onEnd();
    } else {
      const first = body.read() as BodyChunk | null;
      if (first !== null) this.onData(first);
      if (this.body === body) {
        body.on("data", this.onData);
        body.on("end", this.onEnd);
        body.on("error", this.onError);
      }
    }
    socket.uncork();
  }

  /** Stops writing (the request ended or failed); the body's owner decides what becomes of it. */
  stop(): void {
    const body = this.body;
    if (body === null) return;
    this.body = null;
    body.removeListener("data", this.onData);
    body.removeListener("end", this.onEnd);
    body.removeListener("error", this.onError);
  }

  private readonly onData = (chunk: BodyChunk): void => {
    const body = this.body;
    if (body === null) return;
    const size = typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.byteLength;
    const socket = this.socket;
    let flowing: boolean;
    if (!this.framing.chunked) {
      this.sent += size;
      if (this.sent > this.framing.contentLength) {
        this.fail(new H1ClientError("request body is longer than its content-length", LENGTH_MISMATCH));
        return;
      }
      flowing = socket.write(chunk);
    } else {
      if (size === 0) return;
      socket.cork();
      socket.write(`${size.toString(16)}\r\n`, "latin1");
      socket.write(chunk);
      flowing = socket.write("\r\n", "latin1");
      socket.uncork();
    }
    if (!flowing && !this.waitingForDrain) {
      this.waitingForDrain = true;
      body.pause();
    }
  };

  private readonly onDrain = (): void => {
    if (!this.waitingForDrain) return;
    this.waitingForDrain = false;
    this.body?.resume();
  };

  private readonly onEnd = (): void => {
    if (this.body === null) return;
    if (this.framing.chunked) {
      this.socket.write("0\r\n\r\n", "latin1");
    } else if (this.sent !== this.framing.contentLength) {
      this.fail(new H1ClientError("request body is shorter than its content-length", LENGTH_MISMATCH));
      return;
    }
    this.stop();
    this.finished(null);
  };

  private readonly onError = (err: Error): void => {
    if (this.body === null) return;
    this.fail(err);
  };

  private fail(err: Error): void {
    this.stop();
    this.finished(err);
  }
}
