// What a proxy must change in the headers it passes on (RFC 9110 section 7.6.1 and common practice).
import type { IncomingHttpHeaders } from "node:http";

/** Hop-by-hop headers never forwarded in either direction. undici also refuses several of them. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "expect",
  "http2-settings",
]);

/**
 * Names a Connection header may not remove: the target host and the message's framing are the
 * gateway's to decide, not a client's (`Connection: host` used to strip Host before the backend).
 */
const NOT_REMOVABLE = new Set(["host", "content-length", "transfer-encoding"]);

/** Removes hop-by-hop headers, including every header the Connection header names. */
export function stripHopByHop(headers: Record<string, string>): void {
  const connection = headers["connection"];
  if (connection !== undefined) {
    for (const token of connection.split(",")) {
      const name = token.trim().toLowerCase();
      if (name.length > 0 && !NOT_REMOVABLE.has(name)) delete headers[name];
    }
  }
  for (const name of HOP_BY_HOP) {
    if (headers[name] !== undefined) delete headers[name];
  }
}

/**
 * Response headers the client must not receive from the upstream: hop-by-hop ones, and the
 * framing and Date headers that uWebSockets.js writes itself (PERF-NOTES.md).
 */
export const RESPONSE_SKIP = new Set([...HOP_BY_HOP, "content-length", "date"]);

/**
 * The names an upstream's Connection header lists (hop-by-hop for this response), or undefined
 * when it lists none besides close and keep-alive, the common case.
 */
export function connectionOptions(headers: IncomingHttpHeaders): Set<string> | undefined {
  const connection = headers["connection"];
  if (typeof connection !== "string" || connection === "keep-alive" || connection === "close") return undefined;
  let names: Set<string> | undefined;
  for (const token of connection.split(",")) {
    const name = token.trim().toLowerCase();
    if (name.length === 0 || name === "close" || name === "keep-alive") continue;
    (names ??= new Set()).add(name);
  }
  return names;
}
