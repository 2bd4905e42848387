// Random bytes from one pooled buffer, refilled 4 KiB at a time: request and trace ids and
// WebSocket masking keys cost one crypto call per few hundred uses rather than one each.
import { randomFillSync } from "node:crypto";

const pool = Buffer.allocUnsafe(4096);
let offset = pool.length;

/** `n` (at most 4096) random bytes as a view of the pool: valid until the next call. */
export function randomView(n: number): Buffer {
  if (offset + n > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const view = pool.subarray(offset, offset + n);
  offset += n;
  return view;
}
