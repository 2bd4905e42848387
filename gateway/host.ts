// The seam between whoever produces Snapshots and the data planes that serve them: every way of
// running the data plane (one event loop here, worker threads, supervised worker processes, a
// remote pod) is a host behind this interface. Contract types only: the controller imports this.
import type { Registry } from "prom-client";
import type { ApplyResult } from "./data-plane.js";
import type { Snapshot } from "./snapshot.js";

export type { ApplyResult } from "./data-plane.js";

/** One event loop's metrics as prom-client JSON. */
export type LoopMetrics = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;

/** A data-plane worker as the admin status lists it. */
export interface WorkerStatus {
  index: number;
  /** The worker's process (a thread's is the host's own). */
  pid: number;
  /** starting: spawned, not yet serving the current Snapshot; restarting: dead, back-off running. */
  state: "starting" | "serving" | "restarting";
  uptimeSeconds: number;
  restarts: number;
  /** How the last worker in this slot ended ("signal SIGKILL", "exit code 1"). */
  lastExit?: string;
}

export interface DataPlaneHost {
  apply(snapshot: Snapshot): Promise<ApplyResult>;
  /** Metrics of every event loop, as prom-client JSON, for aggregation. */
  metrics(): Promise<LoopMetrics[]>;
  drain(timeoutMs: number): Promise<boolean>;
  workers(): WorkerStatus[];
}
