// Entry point of a data-plane worker process (node:cluster worker of the process host).
import "../v8-flags.js";
import type { WorkerReply, WorkerRequest, WorkerSettings, WorkerStarted } from "./protocol.js";
import { workerLoop } from "./worker-loop.js";

const send = process.send?.bind(process);
if (send === undefined) throw new Error("gateway/hosts/process-entry.js must run as a worker process");

// The supervisor decides when a worker stops: a Ctrl-C reaches the whole process group, and the
// supervisor drains its workers before they go.
process.on("SIGINT", () => undefined);
process.on("SIGTERM", () => undefined);
// Without its supervisor a worker would hold the ports with nobody to drain or restart it.
process.on("disconnect", () => process.exit(0));

const settings = JSON.parse(process.env["MESHGATE_WORKER_SETTINGS"] ?? "null") as WorkerSettings | null;
if (settings === null) throw new Error("MESHGATE_WORKER_SETTINGS is not set");
const handle = workerLoop(settings, (reply: WorkerReply) => {
  if (process.connected) send(reply);
});
process.on("message", (request: WorkerRequest) => handle(request));
send({ type: "started" } satisfies WorkerStarted);
