// Entry point of a data-plane worker thread.
import { parentPort, workerData } from "node:worker_threads";
import type { ToWorker, WorkerSettings } from "./protocol.js";
import { workerLoop } from "./worker-loop.js";

const port = parentPort;
if (port === null) throw new Error("gateway/hosts/thread-entry.js must run in a worker thread");
const loop = workerLoop(workerData as WorkerSettings, (message) => port.postMessage(message));
port.on("message", (message: ToWorker) => loop.receive(message));
port.postMessage({ type: "started" });
