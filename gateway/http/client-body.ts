// A client's request body as a Readable that undici can stream upstream, with backpressure
// both ways: when the upstream is slower than the client, the client's socket is paused.
import { Readable } from "node:stream";
import type { BodyObserver } from "../mirror/route-mirrors.js";
import type { HttpResponse } from "../uws.js";

export class BodyTooLargeError extends Error {
  constructor(limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}

export class ClientBody extends Readable {
  received = 0;
  private clientPaused = false;
  private clientGone = false;

  constructor(
    private readonly res: HttpResponse,
    private readonly maxBytes: number,
    /** A mirror's copy: sees every chunk (and copies what it keeps), then the end or an abort. */
    private readonly observer?: BodyObserver,
  ) {
    super({ highWaterMark: 256 * 1024 });
  }

  /** Feeds one uWS onData chunk. uWS reuses the memory behind `chunk`, so it is copied. */
  feed(chunk: ArrayBuffer, isLast: boolean): void {
    if (this.destroyed || this.clientGone) return;
    this.received += chunk.byteLength;
    if (this.maxBytes > 0 && this.received > this.maxBytes) {
      this.destroy(new BodyTooLargeError(this.maxBytes));
      return;
    }
    this.observer?.write(chunk);
    const more = chunk.byteLength === 0 ? true : this.push(Buffer.from(new Uint8Array(chunk)));
    if (isLast) {
      this.observer?.end();
      this.push(null);
    } else if (!more && !this.clientPaused && !this.clientGone) {
      this.clientPaused = true;
      this.res.pause();
    }
  }

  /** The client went away: uWS must no longer be touched. */
  clientAborted(): void {
    this.clientGone = true;
    if (!this.destroyed && !this.readableEnded) this.destroy(new Error("client aborted the request"));
  }

  /**
   * The response is finished (the upstream may answer before reading the whole body): the
   * HttpResponse is no longer valid, and the rest of the body is discarded.
   */
  detach(): void {
    this.clientGone = true;
    if (!this.destroyed && !this.readableEnded) this.destroy();
  }

  /** Every way the body stops short (too large, client gone, response done) tells the mirror. */
  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.observer?.abort();
    callback(err);
  }

  override _read(): void {
    if (this.clientPaused && !this.clientGone) {
      this.clientPaused = false;
      this.res.resume();
    }
  }
}
