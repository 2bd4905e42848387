// The Reconciler on a thread of its own. Reading, parsing and translating a big folder takes
// seconds of CPU (5,000 HTTPRoutes: about 2 s of YAML alone); on the main thread that time
// stalls the admin port and, with one worker, all traffic. Here the main thread only unpacks the
// result, in slices between requests (gateway/sliced-clone.ts). The thread holds no state: the
// version and the last good certificates stay here and go along with every request, so a thread
// that dies (out of memory on a hostile folder, say) fails that load alone and the next load
// starts a new one.
import { Worker } from "node:worker_threads";
import { type Packed, unpack } from "../gateway/sliced-clone.js";
import type { Reconciled } from "./reconcile.js";
import type { AcmeInputs } from "./translate/acme-certificates.js";
import type { ServedCertificate } from "./translate/certificates.js";

export interface ReconcileRequest {
  id: number;
  version: number;
  certificates: ReadonlyMap<string, ServedCertificate>;
  acme?: AcmeInputs;
}

export type ReconcileReply = { id: number; ok: true; packed: Packed } | { id: number; ok: false; message: string };

/** A load may take this much heap on the thread; past it the thread ends and the load fails. */
const THREAD_HEAP_MB = 1536;
const IDLE_MS = 2000;

export class ThreadedReconciler {
  private version = 0;
  private certificates = new Map<string, ServedCertificate>();
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(r: ReconcileReply): void; reject(e: Error): void }>();

  private idleTimer: NodeJS.Timeout | undefined;

  /**
   * `idleMs`: the thread ends this long after its last load, returning its heap (the garbage of
   * parsing, which V8 keeps for reuse) to the system; a burst of reloads shares one thread.
   */
  constructor(
    private readonly dir: string,
    private readonly idleMs = IDLE_MS,
  ) {}

  /** As Reconciler.load: rejects when the folder cannot be listed or the thread failed. */
  async load(acme?: AcmeInputs): Promise<Reconciled> {
    this.version++;
    const request: ReconcileRequest = {
      id: this.nextId++,
      version: this.version,
      certificates: this.certificates,
      ...(acme === undefined ? {} : { acme }),
    };
    const reply = await this.ask(request).finally(() => this.idle());
    if (!reply.ok) throw new Error(reply.message);
    const result = (await unpack(reply.packed)) as Reconciled;
    if (result.validation.ok) result.translation.snapshot = result.validation.snapshot;
    this.certificates = result.translation.certificates;
    return result;
  }

  /** Ends the thread; loads in flight fail. */
  close(): void {
    clearTimeout(this.idleTimer);
    this.stopWorker();
    this.failAll(new Error("the reconcile thread was closed"));
  }

  private idle(): void {
    if (this.waiting.size > 0 || this.worker === undefined) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.waiting.size === 0) this.stopWorker();
    }, this.idleMs);
    this.idleTimer.unref();
  }

  private stopWorker(): void {
    const worker = this.worker;
    this.worker = undefined;
    if (worker !== undefined) void worker.terminate();
  }

  private ask(request: ReconcileRequest): Promise<ReconcileReply> {
    clearTimeout(this.idleTimer);
    const worker = this.worker ?? this.start();
    return new Promise((resolve, reject) => {
      this.waiting.set(request.id, { resolve, reject });
      worker.postMessage(request);
    });
  }

  private start(): Worker {
    const worker = new Worker(new URL("./reconcile-worker.js", import.meta.url), {
      workerData: { dir: this.dir },
      resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB },
    });
    // Never what keeps the process alive.
    worker.unref();
    worker.on("message", (reply: ReconcileReply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      waiter?.resolve(reply);
    });
    const gone = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failAll(err);
    };
    worker.on("error", (err) => gone(new Error(`the reconcile thread failed: ${err.message}`)));
    worker.on("exit", (code) => gone(new Error(`the reconcile thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }

  private failAll(err: Error): void {
    const waiters = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiters) w.reject(err);
  }
}
