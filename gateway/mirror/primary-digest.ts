// The primary's side of shadow comparison: the Exchange tells it the relayed response (status,
// headers, body chunks while they are valid) and it hands one digest to every sampled copy, or
// tells them the primary failed. Exists only for requests on routes that compare.
import type { IncomingHttpHeaders } from "node:http";
import type { MirrorCopy } from "./mirror.js";
import { BoundedHasher, selectHeaders } from "./shadow-compare.js";

export class PrimaryDigest {
  private status = 0;
  private headers: Record<string, string> = {};
  private hasher: BoundedHasher | null = null;
  private settled = false;

  constructor(
    private readonly copies: readonly MirrorCopy[],
    private readonly headerNames: readonly string[],
    private readonly maxHashBytes: number,
  ) {}

  /** The response head that is relayed to the client (after any retries). */
  head(status: number, headers: IncomingHttpHeaders): void {
    if (this.settled) return;
    this.status = status;
    this.headers = selectHeaders(headers, this.headerNames);
    this.hasher = this.maxHashBytes > 0 ? new BoundedHasher(this.maxHashBytes) : null;
  }

  data(chunk: Uint8Array): void {
    if (!this.settled) this.hasher?.update(chunk);
  }

  /** The whole response went through: compare. */
  end(): void {
    if (this.settled || this.status === 0) return;
    this.settled = true;
    const digest = { status: this.status, headers: this.headers, bodySha256: this.hasher?.digest() ?? null };
    for (const copy of this.copies) copy.primaryResponse(digest);
  }

  /** No complete primary response (local error, reset, client gone): nothing to compare. */
  fail(): void {
    if (this.settled) return;
    this.settled = true;
    for (const copy of this.copies) copy.primaryFailed();
  }
}
