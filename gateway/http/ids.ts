// Request ids and W3C trace context, from the pooled random bytes (random-pool.ts).
import { randomHex } from "../random-pool.js";

/** A random UUID-shaped id (version 4 layout) for X-Request-Id. */
export function newRequestId(): string {
  const h = randomHex(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const ZERO_TRACE = "00000000000000000000000000000000";
const ZERO_SPAN = "0000000000000000";

/** True when a traceparent header is well formed (version 00 layout, non-zero ids). */
export function validTraceparent(value: string): boolean {
  if (value.length !== 55 || !TRACEPARENT.test(value)) return false;
  return value.slice(3, 35) !== ZERO_TRACE && value.slice(36, 52) !== ZERO_SPAN && !value.startsWith("ff");
}

/** Starts a new trace at the edge: fresh trace and parent ids, not sampled. */
export function newTraceparent(): string {
  return `00-${randomHex(16)}-${randomHex(8)}-00`;
}
