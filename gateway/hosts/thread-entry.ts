// Entry point of a data-plane worker thread.
import { parentPort, workerData } from "node:worker_threads";
import type { WorkerSettings, WorkerStarted } from "./protocol.js";
import { workerLoop } from "./worker-loop.js";

const port = parentPort;
if (port === null) throw new Error("gateway/hosts/thread-entry.js must run in a worker thread");
const handle = workerLoop(workerData as WorkerSettings, (reply) => port.postMessage(reply));
port.on("message", handle);
port.postMessage({ type: "started" } satisfies WorkerStarted);
