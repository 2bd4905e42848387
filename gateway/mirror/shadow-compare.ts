// Shadow comparison: does the mirror answer like the primary? Each side is reduced to a digest
// (status, a few chosen headers, a SHA-256 of the body up to a bound); the digests are compared
// per route, counted, and the last few mismatches kept (without bodies) for an operator to read.
import { createHash, type Hash } from "node:crypto";

export interface ResponseDigest {
  status: number;
  /** The selected headers, names in lower case; a missing header is absent. */
  headers: Record<string, string>;
  /** Hex SHA-256 of the body, or null when the body was over the hashing bound. */
  bodySha256: string | null;
}

/** A SHA-256 over at most `maxBytes`; beyond that the digest is unknown (null). */
export class BoundedHasher {
  private hash: Hash | null = createHash("sha256");
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  update(chunk: Uint8Array): void {
    if (this.hash === null) return;
    this.bytes += chunk.byteLength;
    if (this.bytes > this.maxBytes) {
      this.hash = null;
      return;
    }
    this.hash.update(chunk);
  }

  digest(): string | null {
    if (this.hash === null) return null;
    const hex = this.hash.digest("hex");
    this.hash = null;
    return hex;
  }
}

/** Picks `names` (lower case) out of response headers as node:http / undici present them. */
export function selectHeaders(
  headers: Record<string, string | string[] | undefined>,
  names: readonly string[],
): Record<string, string> {
  const picked: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const name of names) {
    const value = headers[name];
    if (value !== undefined) picked[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return picked;
}

/**
 * What differs between the two digests: "status", "header:<name>", "body". Bodies whose hash
 * is unknown on either side are not compared (they count as equal), which a caller can see in
 * the digests of a sample.
 */
export function differences(primary: ResponseDigest, mirror: ResponseDigest, headerNames: readonly string[]): string[] {
  const found: string[] = [];
  if (primary.status !== mirror.status) found.push("status");
  for (const name of headerNames) {
    if (primary.headers[name] !== mirror.headers[name]) found.push(`header:${name}`);
  }
  if (primary.bodySha256 !== null && mirror.bodySha256 !== null && primary.bodySha256 !== mirror.bodySha256) {
    found.push("body");
  }
  return found;
}

export interface MismatchSample {
  at: number;
  differences: string[];
  primary: ResponseDigest;
  mirror: ResponseDigest;
}

export interface RouteComparison {
  matched: number;
  mismatched: number;
  /** The most recent mismatches, oldest first. */
  samples: MismatchSample[];
}

export interface ShadowCompareOptions {
  headerNames: readonly string[];
  /** Mismatches kept per route; default 20. */
  sampleSize?: number;
  /** Most routes tracked, so route names from a bad config cannot grow this without end; default 1000. */
  maxRoutes?: number;
  now?: () => number;
  /** Told of every comparison, after it is counted; `request` is what pair() was given. */
  onCompared?: (route: string, differences: string[], sample: MismatchSample, request: CompareRequest | undefined) => void;
}

/** The request behind a comparison, for logs. */
export interface CompareRequest {
  method: string;
  path: string;
}

/** One request's pair of digests; compared once both arrived, dropped if either side fails. */
export interface ShadowPair {
  primary(digest: ResponseDigest): void;
  mirror(digest: ResponseDigest): void;
  abandon(): void;
}

export class ShadowCompare {
  readonly headerNames: readonly string[];
  private readonly sampleSize: number;
  private readonly maxRoutes: number;
  private readonly now: () => number;
  private readonly onCompared: ShadowCompareOptions["onCompared"];
  private readonly routes = new Map<string, RouteComparison>();

  constructor(opts: ShadowCompareOptions) {
    this.headerNames = opts.headerNames.map((n) => n.toLowerCase());
    this.sampleSize = Math.max(0, opts.sampleSize ?? 20);
    this.maxRoutes = Math.max(1, opts.maxRoutes ?? 1000);
    this.now = opts.now ?? Date.now;
    this.onCompared = opts.onCompared;
  }

  /** Compares two digests for `route`, counts the result and returns the differences. */
  record(route: string, primary: ResponseDigest, mirror: ResponseDigest, request?: CompareRequest): string[] {
    const found = differences(primary, mirror, this.headerNames);
    const sample: MismatchSample = { at: this.now(), differences: found, primary, mirror };
    const stats = this.statsFor(route);
    if (stats !== undefined) {
      if (found.length === 0) {
        stats.matched++;
      } else {
        stats.mismatched++;
        if (this.sampleSize > 0) {
          if (stats.samples.length >= this.sampleSize) stats.samples.shift();
          stats.samples.push(sample);
        }
      }
    }
    this.onCompared?.(route, found, sample, request);
    return found;
  }

  /** A pair to fill from both sides as they finish, in either order. */
  pair(route: string, request?: CompareRequest): ShadowPair {
    let primary: ResponseDigest | null = null;
    let mirror: ResponseDigest | null = null;
    let open = true;
    const settle = (): void => {
      if (open && primary !== null && mirror !== null) {
        open = false;
        this.record(route, primary, mirror, request);
      }
    };
    return {
      primary: (d) => {
        primary = d;
        settle();
      },
      mirror: (d) => {
        mirror = d;
        settle();
      },
      abandon: () => {
        open = false;
      },
    };
  }

  report(route: string): RouteComparison | undefined {
    const stats = this.routes.get(route);
    return stats === undefined ? undefined : { ...stats, samples: [...stats.samples] };
  }

  private statsFor(route: string): RouteComparison | undefined {
    let stats = this.routes.get(route);
    if (stats === undefined) {
      if (this.routes.size >= this.maxRoutes) return undefined;
      stats = { matched: 0, mismatched: 0, samples: [] };
      this.routes.set(route, stats);
    }
    return stats;
  }
}
