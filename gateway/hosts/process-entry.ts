// Entry point of a data-plane worker process (node:cluster worker of the process host).
import "../v8-flags.js";
import type { FromWorker, ToWorker, WorkerSettings } from "./protocol.js";
import { workerLoop } from "./worker-loop.js";

const sendRaw = process.send?.bind(process);
if (sendRaw === undefined) throw new Error("gateway/hosts/process-entry.js must run as a worker process");

// The supervisor decides when a worker stops: a Ctrl-C reaches the whole process group, and the
// supervisor drains its workers before they go.
process.on("SIGINT", () => undefined);
process.on("SIGTERM", () => undefined);

const settings = JSON.parse(process.env["MESHGATE_WORKER_SETTINGS"] ?? "null") as WorkerSettings | null;
if (settings === null) throw new Error("MESHGATE_WORKER_SETTINGS is not set");
// A send after the supervisor has gone would be an "error" event and end the worker: throw instead.
const send = (message: FromWorker): void => {
  if (!process.connected) throw new Error("the supervisor is gone");
  sendRaw(message);
};
const loop = workerLoop(settings, send);
process.on("message", (message: ToWorker) => loop.receive(message));
// Without its supervisor a worker would hold the ports with nobody to drain or restart it.
process.on("disconnect", () => {
  loop.hostGone();
  process.exit(0);
});
send({ type: "started" });
