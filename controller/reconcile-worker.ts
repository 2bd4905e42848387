// Entry point of the reconcile thread (reconcile-thread.ts): loads, translates and validates the
// folder when asked, and answers with the result packed in pieces (gateway/sliced-clone.ts).
import { parentPort, workerData } from "node:worker_threads";
import { pack } from "../gateway/sliced-clone.js";
import { reconcile } from "./reconcile.js";
import type { ReconcileReply, ReconcileRequest } from "./reconcile-thread.js";

const port = parentPort;
if (port === null) throw new Error("controller/reconcile-worker.js must run in a worker thread");
const { dir } = workerData as { dir: string };

port.on("message", (request: ReconcileRequest) => {
  reconcile(dir, request.version, request.certificates, request.acme).then(
    ({ translation, validation }) => {
      // A valid Snapshot crosses once: the main thread takes the translation's from it.
      const carried = validation.ok ? { ...translation, snapshot: undefined } : translation;
      const reply: ReconcileReply = { id: request.id, ok: true, packed: pack({ translation: carried, validation }) };
      port.postMessage(reply);
    },
    (err: Error) => port.postMessage({ id: request.id, ok: false, message: err.message } satisfies ReconcileReply),
  );
});
