// Random bytes from one pooled buffer, refilled 4 KiB at a time: request and trace ids and
// WebSocket masking keys cost one crypto call per few hundred uses rather than one each.
import { randomFillSync } from "node:crypto";

const pool = Buffer.allocUnsafe(4096);
let offset = pool.length;

/** Where `n` (at most 4096) fresh random bytes start in the pool. */
function take(n: number): number {
  if (offset + n > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const at = offset;
  offset += n;
  return at;
}

/** `n` random bytes as a view of the pool: valid until the next call. */
export function randomView(n: number): Buffer {
  const at = take(n);
  return pool.subarray(at, at + n);
}

/** `n` random bytes as hex, with no Buffer made on the way (ids are made per request). */
export function randomHex(n: number): string {
  const at = take(n);
  return pool.toString("hex", at, at + n);
}
