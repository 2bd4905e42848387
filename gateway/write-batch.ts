// Socket writes gathered over one event-loop iteration and made together, right after the loop
// has handled every ready socket (setImmediate runs then).
//
// Why: on loopback (and on any virtual machine) a write that wakes a sleeping peer costs an
// inter-processor interrupt, which was the largest single cost per proxied request. Written
// as each request is handled, the writes are spread out by the JavaScript between them, so the
// peer (the upstream, or the client) has gone back to sleep before each one; written back to
// back, the first write wakes it and the rest find it awake. On the proxy benchmark this cut
// the p99 and raised throughput; see the issue notes for the figures.

export interface Flushable {
  /** Makes the deferred writes; called once per `defer`, after the current loop iteration. */
  flush(): void;
}

let queue: Flushable[] = [];
let scheduled = false;

// Writes deferred while the batch is being flushed (a mirror copy dispatched from the batch, say)
// join it in a second pass, while their peer is still awake; later ones wait for the next turn,
// so an item that keeps deferring itself cannot hold the loop.
const PASSES = 2;

function run(): void {
  for (let pass = 0; pass < PASSES && queue.length > 0; pass++) {
    const items = queue;
    queue = [];
    for (const item of items) {
      try {
        item.flush();
      } catch (err) {
        // One failing write must not stop the others; the owner's own error path reports it.
        process.emitWarning(`deferred write failed: ${(err as Error).message}`);
      }
    }
  }
  scheduled = queue.length > 0;
  if (scheduled) setImmediate(run);
}

/** Calls `item.flush()` after this loop iteration's I/O callbacks. */
export function defer(item: Flushable): void {
  queue.push(item);
  if (!scheduled) {
    scheduled = true;
    setImmediate(run);
  }
}
