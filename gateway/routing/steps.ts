// Compilation as steps: a compile function is a generator that yields wherever it may pause
// (once per entry, action or index node), so one code path runs both at once (tests, small
// configurations) and sliced between requests (the data plane applying a big Snapshot), where a
// slice ends once its time is up and the event loop serves what waited meanwhile.
import { performance } from "node:perf_hooks";

/** A compile in steps; its return value is the result. */
export type Steps<T> = Generator<void, T, void>;

/** Runs every step at once. */
export function runNow<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}

/**
 * Time for one slice of compilation before the event loop gets a turn. A proxied request needs
 * several turns (its head in, the upstream write flushed, the upstream answer in, the response
 * flushed), and each turn may meet a slice (and a scavenge): with the gateway pinned to one core
 * during a 5,000-route apply, the longest request waited 50-80 ms with 8 ms slices, 40-64 with
 * 3 ms, 34-48 with 1.5 ms; 1 ms did no better, and the apply took no longer at 1.5.
 */
export const SLICE_MS = 1.5;

/**
 * Runs the steps in slices of about `sliceMs`, giving the event loop a turn (setImmediate:
 * after I/O, so requests that arrived meanwhile are served) between slices. A step that throws
 * rejects the promise, and nothing the steps built is left anywhere.
 */
export async function runSliced<T>(steps: Steps<T>, sliceMs = SLICE_MS): Promise<T> {
  let start = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
    if (performance.now() - start >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      start = performance.now();
    }
  }
}
