// Messages between the main thread and data-plane worker threads.
import type { Registry } from "prom-client";

/** One event loop's metrics as prom-client JSON. */
export type LoopMetrics = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;

import type { ApplyResult } from "./data-plane.js";
import type { Snapshot } from "./snapshot.js";

export type WorkerRequest =
  | { id: number; type: "apply"; snapshot: Snapshot }
  | { id: number; type: "metrics" }
  | { id: number; type: "drain"; timeoutMs: number };

export type WorkerReply =
  | { id: number; type: "applied"; result: ApplyResult }
  | { id: number; type: "metrics"; metrics: LoopMetrics }
  | { id: number; type: "drained"; drained: boolean }
  | { id: number; type: "error"; message: string };
