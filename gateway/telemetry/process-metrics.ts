// prom-client's default metrics (process_*: memory, CPU, file descriptors; nodejs_*: event-loop
// lag, heap, GC, handles) for the process or thread this runs in. They describe one process (or
// one event loop) and must never be summed across workers: whoever merges them gives each its
// own `worker` label instead (labelledPerProcess).
import { isMainThread } from "node:worker_threads";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { LoopMetrics } from "../host.js";

/** The label that tells one process's (or event loop's) series from another's. */
export const WORKER_LABEL = "worker";
/** Its value for the supervisor's own process. */
export const SUPERVISOR_WORKER = "supervisor";

let registry: Registry | undefined;

/**
 * This thread's default metrics, registered on first use. Once per thread: every collector
 * keeps a PerformanceObserver (GC) and an event-loop delay histogram running.
 */
export function defaultMetricsRegistry(): Registry {
  if (registry === undefined) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
  }
  return registry;
}

/**
 * This event loop's default metrics as prom-client JSON. A worker thread shares its process
 * with the supervisor's main thread, which reports the process_* series once; the thread keeps
 * only what is its own (nodejs_*: its event loop, heap, GC and handles).
 */
export async function ownProcessMetrics(): Promise<LoopMetrics> {
  const all = await defaultMetricsRegistry().getMetricsAsJSON();
  return isMainThread ? all : all.filter((metric) => !metric.name.startsWith("process_"));
}

/**
 * `metrics` with `worker` added to every series. Each series then comes from one process only,
 * so the merge has nothing to combine: "first" keeps it as it is, where prom-client's own
 * aggregators would average the lag, keep the smallest start time or drop a series.
 */
export function labelledPerProcess(metrics: LoopMetrics, worker: string): LoopMetrics {
  return metrics.map((metric) => ({
    ...metric,
    aggregator: "first",
    values: metric.values.map((value) => ({ ...value, labels: { ...value.labels, [WORKER_LABEL]: worker } })),
  }));
}
