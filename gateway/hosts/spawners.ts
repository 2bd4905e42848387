// How the supervisor starts a worker: a child process (the default: a native abort ends one
// worker, not the gateway) or a thread of this process (cheaper to start, shares its fate).
import cluster from "node:cluster";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { stdoutLines } from "../telemetry/log-lines.js";
import type { FromWorker, WorkerSettings } from "./protocol.js";
import type { Spawner, WorkerEvents, WorkerHandle } from "./supervisor.js";
import { WorkerOutput } from "./worker-output.js";

const PROCESS_ENTRY = fileURLToPath(new URL("./process-entry.js", import.meta.url));
const THREAD_ENTRY = new URL("./thread-entry.js", import.meta.url);

/**
 * Worker processes through node:cluster, with each worker accepting on the shared socket itself
 * (SCHED_NONE): uWebSockets.js ports are shared with SO_REUSEPORT, which node:net in Node 20
 * cannot do, so the node:net listeners (passthrough, shared and PROXY-protocol ports) are bound
 * once by this process and handed to every worker; they stay open while any worker lives.
 * A worker's stdout and stderr come through this process (worker-output.ts): native code in a
 * worker prints lines that are not JSON, and the gateway's stdout must carry only JSON lines.
 */
export class ProcessSpawner implements Spawner {
  private readonly output: WorkerOutput;
  /** Output of workers still being passed on (a worker's pipe can hold lines after its exit). */
  private readonly following = new Set<Promise<void>>();

  constructor(private readonly settings: WorkerSettings) {
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: PROCESS_ENTRY, serialization: "advanced", silent: true });
    this.output = new WorkerOutput(stdoutLines(), process.stderr, settings.logLevel);
  }

  spawn(index: number, events: WorkerEvents): WorkerHandle {
    const worker = cluster.fork({ MESHGATE_WORKER_SETTINGS: JSON.stringify(this.settings) });
    const output = this.output.follow(index, worker.process.stdout, worker.process.stderr);
    this.following.add(output);
    void output.then(() => this.following.delete(output));
    worker.on("message", (message: FromWorker) => events.message(message));
    // A send to a worker that has just died fails here rather than throwing.
    worker.on("error", () => undefined);
    // Reported at once, so a restart does not wait; its last lines are awaited by outputDone().
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

  /** Settles once every exited worker's last lines have been passed on. */
  async outputDone(): Promise<void> {
    await Promise.all(this.following);
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
