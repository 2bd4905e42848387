// A bounded copy of a request body for a mirror. The proxy feeds each body chunk to the tee
// next to the primary's ClientBody; the tee copies it and returns at once. It has no way to
// push back, so the primary's stream is never paused or slowed by it. Past `maxBytes` the copy
// is dropped and the mirror abandoned: a mirror never costs more memory than its bound.

export type TeeOutcome =
  | { kind: "complete"; chunks: Buffer[]; bytes: number }
  | { kind: "too_large" }
  | { kind: "aborted" };

export class BodyTee {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private settled = false;

  /** `onDone` is called once, synchronously from write, end or abort. */
  constructor(
    readonly maxBytes: number,
    private readonly onDone: (outcome: TeeOutcome) => void,
  ) {}

  get done(): boolean {
    return this.settled;
  }

  /** Bytes held so far. */
  get heldBytes(): number {
    return this.bytes;
  }

  /**
   * Copies one chunk (uWS reuses the memory behind its chunks, so a view is never kept).
   * A declared length over the bound can be checked up front with `declare`.
   */
  write(chunk: ArrayBuffer | Uint8Array): void {
    if (this.settled) return;
    const size = chunk.byteLength;
    if (size === 0) return;
    if (this.bytes + size > this.maxBytes) {
      this.finish({ kind: "too_large" });
      return;
    }
    const view = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk);
    this.chunks.push(Buffer.from(view));
    this.bytes += size;
  }

  /** A Content-Length known before the body arrives: give up at once when it is over the bound. */
  declare(contentLength: number): void {
    if (!this.settled && contentLength > this.maxBytes) this.finish({ kind: "too_large" });
  }

  /** The body is complete. */
  end(): void {
    if (this.settled) return;
    const chunks = this.chunks;
    const bytes = this.bytes;
    this.finish({ kind: "complete", chunks, bytes });
  }

  /** The client went away or the primary failed before the body was whole. */
  abort(): void {
    if (!this.settled) this.finish({ kind: "aborted" });
  }

  private finish(outcome: TeeOutcome): void {
    this.settled = true;
    this.chunks = [];
    this.bytes = 0;
    this.onDone(outcome);
  }
}
