// Hostname patterns: exact ("a.example.com"), wildcard ("*.example.com": one or more labels
// in front of ".example.com", never "example.com" itself) or any host.

export type HostPattern =
  | { kind: "exact"; host: string }
  /** suffix keeps its leading dot: ".example.com". */
  | { kind: "wildcard"; suffix: string }
  | { kind: "any" };

/** An absent pattern, "" and "*" all accept every host. */
export function parseHostPattern(pattern: string | undefined): HostPattern {
  if (pattern === undefined || pattern === "" || pattern === "*") return { kind: "any" };
  const lower = pattern.toLowerCase();
  return lower.startsWith("*.")
    ? { kind: "wildcard", suffix: lower.slice(1) }
    : { kind: "exact", host: lower };
}

/**
 * The value of the most specific wildcard covering `host`, keyed by suffix. Walks the host's
 * label boundaries left to right, so the longest suffix is tried first and the cost follows
 * the number of labels, not the number of wildcards.
 */
export function lookupWildcard<T>(bySuffix: ReadonlyMap<string, T>, host: string): T | undefined {
  if (bySuffix.size === 0) return undefined;
  // Starting at index 1 keeps the first label non-empty: ".example.com" is no host.
  for (let dot = host.indexOf(".", 1); dot !== -1; dot = host.indexOf(".", dot + 1)) {
    const hit = bySuffix.get(host.slice(dot));
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/** Hostname → value, most specific pattern first: exact, then longest wildcard, then any. */
export class HostnameTable<T> {
  readonly exact = new Map<string, T>();
  readonly wildcards = new Map<string, T>();
  any: T | undefined;

  /** Keeps the first value given for a pattern. */
  add(pattern: HostPattern, value: T): void {
    if (pattern.kind === "any") this.any ??= value;
    else if (pattern.kind === "wildcard") {
      if (!this.wildcards.has(pattern.suffix)) this.wildcards.set(pattern.suffix, value);
    } else if (!this.exact.has(pattern.host)) this.exact.set(pattern.host, value);
  }

  lookup(host: string): T | undefined {
    return this.exact.get(host) ?? lookupWildcard(this.wildcards, host) ?? this.any;
  }
}
