// Entry point of a reconcile thread (reconcile-thread.ts): loads, translates and validates the
// folder once, answers with the result packed in pieces (gateway/sliced-clone.ts), and is ended.
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { pack } from "../gateway/sliced-clone.js";
import { reconcile } from "./reconcile.js";
import type { ReconcileReply, ReconcileRequest } from "./reconcile-thread.js";

const port = parentPort;
if (port === null) throw new Error("controller/reconcile-worker.js must run in a worker thread");
const { dir, nice } = workerData as { dir: string; nice: number };

// A priority for this thread alone (Linux keeps nice values per thread; 0 = the calling one): at
// 19, where the gateway has one core (pinned, a small container), the event loop serving traffic
// gets the core whenever it has work, and translation runs in what is left.
try {
  if (nice !== 0) setPriority(nice);
} catch {
  // Not permitted or not supported: translation then competes as an equal.
}

// Started ahead of the reload it serves: the modules are loaded, the request comes when it does.
port.once("message", (request: ReconcileRequest) => {
  reconcile(dir, request.version, request.certificates, request.acme).then(
    ({ translation, validation }) => {
      // A valid Snapshot crosses once: the main thread takes the translation's from it.
      const carried = validation.ok ? { ...translation, snapshot: undefined } : translation;
      port.postMessage({ ok: true, packed: pack({ translation: carried, validation }) } satisfies ReconcileReply);
    },
    (err: Error) => port.postMessage({ ok: false, message: err.message } satisfies ReconcileReply),
  );
});
