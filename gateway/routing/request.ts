// The parts of a request that routing reads, gathered once by the listener.
export interface RequestInfo {
  /** Lower-case, port stripped; IPv6 literals keep their brackets. */
  host: string;
  method: string;
  /** Raw path without the query, as received. */
  path: string;
  /** Raw query without "?", "" when none. */
  query: string;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
}
