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
 * flushed), and each turn may meet a slice: at 8 ms, requests waited 50-80 ms during a
 * 5,000-route apply although no turn was blocked longer than ~30 ms. Hence a few milliseconds.
 */
export const SLICE_MS = 3;

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
