// How the supervisor starts a worker: a child process (the default: a native abort ends one
// worker, not the gateway) or a thread of this process (cheaper to start, shares its fate).
import cluster from "node:cluster";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { FromWorker, WorkerSettings } from "./protocol.js";
import type { Spawner, WorkerEvents, WorkerHandle } from "./supervisor.js";

const PROCESS_ENTRY = fileURLToPath(new URL("./process-entry.js", import.meta.url));
const THREAD_ENTRY = new URL("./thread-entry.js", import.meta.url);

/**
 * Worker processes through node:cluster, with each worker accepting on the shared socket itself
 * (SCHED_NONE): uWebSockets.js ports are shared with SO_REUSEPORT, which node:net in Node 20
 * cannot do, so the node:net listeners (passthrough, shared and PROXY-protocol ports) are bound
 * once by this process and handed to every worker; they stay open while any worker lives.
 */
export class ProcessSpawner implements Spawner {
  constructor(private readonly settings: WorkerSettings) {
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: PROCESS_ENTRY, serialization: "advanced" });
  }

  spawn(_index: number, events: WorkerEvents): WorkerHandle {
    const worker = cluster.fork({ MESHGATE_WORKER_SETTINGS: JSON.stringify(this.settings) });
    worker.on("message", (message: FromWorker) => events.message(message));
    // A send to a worker that has just died fails here rather than throwing.
    worker.on("error", () => undefined);
    worker.on("exit", (code, signal) => events.exit(signal === null ? `exit code ${code}` : `signal ${signal}`));
    return {
      pid: worker.process.pid ?? 0,
      send: (message) => {
        if (worker.isConnected()) worker.send(message);
      },
      stop: () => {
        if (worker.isConnected()) worker.disconnect();
      },
      kill: () => worker.process.kill("SIGKILL"),
    };
  }
}

/**
 * Worker threads. Threads of one process cannot share a node:net listening socket in Node 20,
 * so only the first thread binds the node:net listeners (see WorkerSettings.netFronts).
 */
export class ThreadSpawner implements Spawner {
  constructor(private readonly settings: Omit<WorkerSettings, "netFronts">) {}

  spawn(index: number, events: WorkerEvents): WorkerHandle {
    const settings: WorkerSettings = { ...this.settings, netFronts: index === 0 };
    const worker = new Worker(THREAD_ENTRY, { workerData: settings });
    worker.on("message", (message: FromWorker) => events.message(message));
    let failure = "";
    worker.on("error", (error) => {
      failure = `: ${error.stack ?? error.message}`;
    });
    worker.on("exit", (code) => events.exit(`exit code ${code}${failure}`));
    return {
      pid: process.pid,
      send: (message) => worker.postMessage(message),
      stop: () => void worker.terminate(),
      kill: () => void worker.terminate(),
    };
  }
}
