// A client's request body, streamed upstream with backpressure both ways: when the upstream is
// slower than the client, the client's socket is paused. When the request may be retried, the
// chunks are also kept (up to a bound) so a retry can send the same bytes again.
import { Readable } from "node:stream";
import type { BodyObserver } from "../mirror/route-mirrors.js";
import type { HttpResponse } from "../uws.js";

export class BodyTooLargeError extends Error {
  constructor(limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}

/** The most of a request body kept for a retry; a longer body streams once and is not retried. */
export const RETRY_BODY_BYTES = 64 * 1024;

/** What one attempt uploads: the body's chunks as the client sends them. */
class BodyStream extends Readable {
  constructor(private readonly source: ClientBody) {
    super({ highWaterMark: 256 * 1024 });
    // Failures reach the exchange through ClientBody's callbacks; a stream no upload listens to
    // any more (a retried attempt's) must not turn its error into an uncaught exception.
    this.on("error", () => {});
  }

  override _read(): void {
    this.source.pulled(this);
  }
}

export class ClientBody {
  received = 0;
  /** Told once when the body goes past the client limit (the answer is 413). */
  onTooLarge: (() => void) | undefined = undefined;
  /** The stream the current attempt uploads; a retry replaces it. */
  private stream: BodyStream;
  /** Copies of every chunk so far, while a retry may still need them and they fit the bound. */
  private kept: Buffer[] | undefined = undefined;
  private keptLimit = 0;
  private complete = false;
  private clientPaused = false;
  private clientGone = false;
  private stopped = false;

  constructor(
    private readonly res: HttpResponse,
    private readonly maxBytes: number,
    /** A mirror's copy: sees every chunk (and copies what it keeps), then the end or an abort. */
    private readonly observer?: BodyObserver,
  ) {
    this.stream = new BodyStream(this);
  }

  /** The stream for the first attempt. */
  get first(): Readable {
    return this.stream;
  }

  /**
   * Keeps the body's chunks (up to `limit` bytes) so a retry can resend them. Call before any
   * chunk arrives; a body that grows past `limit` drops them and can no longer be retried.
   */
  keepForRetry(limit: number): void {
    if (this.received === 0) {
      this.kept = [];
      this.keptLimit = limit;
    }
  }

  /** Whether a retry could resend this body. */
  get replayable(): boolean {
    return this.kept !== undefined && !this.stopped;
  }

  /**
   * A fresh stream for a retry: the chunks so far, then the rest as the client sends it. The
   * previous attempt's stream is left behind (its upload has stopped). undefined when the
   * body went past the bound or ended badly.
   */
  replay(): Readable | undefined {
    const kept = this.kept;
    if (kept === undefined || this.stopped) return undefined;
    const previous = this.stream;
    const next = new BodyStream(this);
    for (const chunk of kept) next.push(chunk);
    if (this.complete) next.push(null);
    this.stream = next;
    if (!previous.destroyed) previous.destroy();
    return next;
  }

  /** Feeds one uWS onData chunk. uWS reuses the memory behind `chunk`, so it is copied. */
  feed(chunk: ArrayBuffer, isLast: boolean): void {
    if (this.stopped || this.clientGone) return;
    this.received += chunk.byteLength;
    if (this.maxBytes > 0 && this.received > this.maxBytes) {
      this.stop(new BodyTooLargeError(this.maxBytes));
      this.onTooLarge?.();
      return;
    }
    this.observer?.write(chunk);
    const stream = this.stream;
    let more = true;
    if (chunk.byteLength > 0) {
      const copy = Buffer.from(new Uint8Array(chunk));
      if (this.kept !== undefined) {
        if (this.received <= this.keptLimit) this.kept.push(copy);
        else this.kept = undefined; // past the bound: this body is sent once
      }
      // A stream its consumer destroyed (undici does after the upload) takes no more chunks.
      if (!stream.destroyed) more = stream.push(copy);
    }
    if (isLast) {
      this.complete = true;
      this.observer?.end();
      if (!stream.destroyed) stream.push(null);
    } else if (!more && !stream.destroyed && !this.clientPaused && !this.clientGone) {
      this.clientPaused = true;
      this.res.pause();
    }
  }

  /** The current attempt's stream wants more: let the client send again. */
  pulled(from: BodyStream): void {
    if (from === this.stream && this.clientPaused && !this.clientGone) {
      this.clientPaused = false;
      this.res.resume();
    }
  }

  /** The client went away: uWS must no longer be touched. */
  clientAborted(): void {
    this.clientGone = true;
    this.stop(new Error("client aborted the request"));
  }

  /**
   * The response is finished (the upstream may answer before reading the whole body): the
   * HttpResponse is no longer valid, and the rest of the body is discarded.
   */
  detach(): void {
    this.clientGone = true;
    this.stop(undefined);
  }

  /** Every way the body stops short (too large, client gone, response done) tells the mirror. */
  private stop(err: Error | undefined): void {
    if (this.stopped) return;
    this.stopped = true;
    if (!this.complete) this.observer?.abort();
    const stream = this.stream;
    if (!stream.destroyed && !stream.readableEnded) stream.destroy(err);
    // The kept copies serve this request's retries only.
    this.kept = undefined;
  }
}
