// The Reconciler on a thread of its own. Reading, parsing and translating a big folder takes
// seconds of CPU (5,000 HTTPRoutes: about 2 s of YAML alone); on the main thread that time
// stalled the admin port and, with one worker, all traffic. Here the main thread only unpacks the
// result, in slices between requests (gateway/sliced-clone.ts).
//
// Each load runs on a new thread that ends as soon as it has answered: its heap (over 100 MB of
// parse garbage for 5,000 routes) goes back to the system at once instead of waiting for a
// collection, whose concurrent marking would compete with the event loop for the core. Reloads
// are rare, and the next thread is started as soon as a load is done and waits, its modules
// loaded, so a reload does not wait for a thread to start. The thread holds no state: the version
// and the last good certificates stay here and go along with the request, so a thread that dies
// (out of heap on a hostile folder, say) fails that load alone.
import { Worker } from "node:worker_threads";
import { type Packed, unpack } from "../gateway/sliced-clone.js";
import type { Reconciled } from "./reconcile.js";
import type { AcmeInputs } from "./translate/acme-certificates.js";
import type { ServedCertificate } from "./translate/certificates.js";

export interface ReconcileRequest {
  version: number;
  certificates: ReadonlyMap<string, ServedCertificate>;
  acme?: AcmeInputs;
}

export type ReconcileReply = { ok: true; packed: Packed } | { ok: false; message: string };

/** How long a thread started ahead waits for a load before it is ended. */
const SPARE_IDLE_MS = 30_000;

/** A load may take this much heap on its thread; past it the thread ends and the load fails. */
const THREAD_HEAP_MB = 1536;

export class ThreadedReconciler {
  private version = 0;
  private certificates = new Map<string, ServedCertificate>();
  private readonly running = new Set<Worker>();
  /** A thread started ahead, waiting for the next load; ended after SPARE_IDLE_MS without one. */
  private spare: Worker | undefined;
  private spareTimer: NodeJS.Timeout | undefined;
  private closed = false;

  /**
   * `nice`: the thread's priority. 19 where traffic is served on this process's own event loop
   * (translation takes only what traffic leaves); with worker processes serving the traffic, a
   * low priority would starve translation behind busy workers (a certificate change waiting for
   * seconds), so it runs as an equal there.
   */
  constructor(
    private readonly dir: string,
    private readonly nice = 19,
  ) {
    this.keepSpare();
  }

  /** As Reconciler.load: rejects when the folder cannot be listed or the thread failed. */
  async load(acme?: AcmeInputs): Promise<Reconciled> {
    this.version++;
    const reply = await this.run({
      version: this.version,
      certificates: this.certificates,
      ...(acme === undefined ? {} : { acme }),
    });
    if (!reply.ok) throw new Error(reply.message);
    const result = (await unpack(reply.packed)) as Reconciled;
    if (result.validation.ok) result.translation.snapshot = result.validation.snapshot;
    this.certificates = result.translation.certificates;
    return result;
  }

  /** Ends the threads of loads in flight (those loads fail) and the spare one. */
  close(): void {
    this.closed = true;
    for (const worker of this.running) void worker.terminate();
    this.dropSpare();
  }

  /**
   * Starts the thread for the next load now, while reloads come (a folder being edited, a
   * certificate rotation), and ends it after SPARE_IDLE_MS without one: an idle gateway does not
   * keep a thread's memory (about 18 MB) for a reload that may not come. The caller says when:
   * once the last load's configuration is applied, so that the thread's start does not compete
   * with the event loops compiling it.
   */
  keepSpare(): void {
    if (this.closed) return;
    this.spare ??= this.start();
    clearTimeout(this.spareTimer);
    this.spareTimer = setTimeout(() => this.dropSpare(), SPARE_IDLE_MS);
    this.spareTimer.unref();
  }

  private dropSpare(): void {
    clearTimeout(this.spareTimer);
    if (this.spare !== undefined) void this.spare.terminate();
    this.spare = undefined;
  }

  /** A thread that loads its modules and waits for one request. */
  private start(): Worker {
    const worker = new Worker(new URL("./reconcile-worker.js", import.meta.url), {
      workerData: { dir: this.dir, nice: this.nice },
      resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB },
    });
    // Never what keeps the process alive.
    worker.unref();
    // A spare that fails while waiting is replaced when the next load comes.
    const gone = () => {
      if (this.spare === worker) this.spare = undefined;
    };
    worker.once("error", gone);
    worker.once("exit", gone);
    return worker;
  }

  private run(request: ReconcileRequest): Promise<ReconcileReply> {
    return new Promise((resolve, reject) => {
      const worker = this.spare ?? this.start();
      this.spare = undefined;
      this.running.add(worker);
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        this.running.delete(worker);
        void worker.terminate();
        outcome();
      };
      worker.once("message", (reply: ReconcileReply) => settle(() => resolve(reply)));
      worker.once("error", (err) => settle(() => reject(new Error(`the reconcile thread failed: ${err.message}`))));
      worker.once("exit", (code) => settle(() => reject(new Error(`the reconcile thread exited (${code}) without an answer`))));
      worker.postMessage(request);
    });
  }
}
