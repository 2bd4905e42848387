// Chooses the host that runs the data plane: one event loop in this process, or N supervised
// workers (processes by default, threads on request) on the same ports.
import { AggregatorRegistry, type Registry } from "prom-client";
import { type ApplyResult, DataPlane } from "../data-plane.js";
import type { DataPlaneHost, LoopMetrics, WorkerStatus } from "../host.js";
import type { RateLimitOptions } from "../ratelimit/runtime.js";
import type { Snapshot } from "../snapshot.js";
import { accessLogFor } from "../telemetry/access-log.js";
import { stdoutEventLog } from "../telemetry/event-log.js";
import type { LogLevel } from "../telemetry/log-lines.js";
import { defaultMetricsRegistry, labelledPerProcess, ownProcessMetrics } from "../telemetry/process-metrics.js";
import { PortClaims } from "./port-claims.js";
import { ProcessSpawner, ThreadSpawner } from "./spawners.js";
import { SupervisedHost, type SupervisorLog } from "./supervisor.js";

export type WorkerMode = "local" | "threads" | "processes";
export const WORKER_MODES: readonly WorkerMode[] = ["local", "threads", "processes"];

export interface HostOptions {
  workers: number;
  /** Default: processes with more than one worker, local with one. */
  mode?: WorkerMode;
  /** "off", "stdout" or a file path. */
  accessLog: string;
  /** The least severe event the data plane logs; default info. */
  logLevel?: LogLevel;
  /** Plain data: it crosses to workers. */
  rateLimits?: Omit<RateLimitOptions, "onRedisError" | "eventLoops" | "localShares">;
  /** Where the host's own metrics (worker restarts) are registered. */
  registry?: Registry;
  log?: SupervisorLog;
}

export function createHost(options: HostOptions): DataPlaneHost {
  // Supervised processes by default, one worker included (as nginx always runs a master and a
  // worker): a native abort costs one worker, and native output stays out of the JSON log.
  const mode = options.mode ?? "processes";
  // This process's default metrics start with the host, so the first scrape has a lag histogram.
  defaultMetricsRegistry();
  if (mode === "local") {
    if (options.workers > 1) throw new Error("worker mode local runs one worker");
    return new LocalHost(options);
  }
  // Local limits are counted once, by the supervisor's ledger; each worker counts its share of
  // the Global limits' insurance (and of Local limits while the supervisor does not answer).
  const settings = {
    accessLog: options.accessLog,
    logLevel: options.logLevel ?? "info",
    rateLimits: { ...options.rateLimits, eventLoops: options.workers },
    sharedLocalLimits: options.workers > 1,
  };
  const spawner = mode === "threads" ? new ThreadSpawner(settings) : new ProcessSpawner({ ...settings, netFronts: true });
  return new SupervisedHost(spawner, {
    workers: options.workers,
    ...(options.registry === undefined ? {} : { registry: options.registry }),
    ...(options.log === undefined ? {} : { log: options.log }),
  });
}

/** The data plane on this process's own event loop. */
class LocalHost implements DataPlaneHost {
  private readonly plane: DataPlane;
  private readonly claims = new PortClaims();
  private readonly startedAt = Date.now();

  constructor(options: HostOptions) {
    this.plane = new DataPlane({
      accessLog: accessLogFor(options.accessLog),
      eventLog: stdoutEventLog(options.logLevel),
      rateLimits: options.rateLimits ?? {},
    });
  }

  async apply(snapshot: Snapshot): Promise<ApplyResult> {
    const { snapshot: admitted, refused } = await this.claims.admit(snapshot);
    const result = await this.plane.apply(admitted);
    const merged = { version: snapshot.version, portErrors: [...refused, ...result.portErrors] };
    this.claims.served(admitted, merged.portErrors);
    return merged;
  }

  /** One process that is both supervisor and worker: its default metrics as worker 0's, as
   * /status lists it, so a rule on the workers' event-loop lag also holds here. */
  async metrics(): Promise<LoopMetrics[]> {
    return [await this.plane.metrics.registry.getMetricsAsJSON(), labelledPerProcess(await ownProcessMetrics(), "0")];
  }

  drain(timeoutMs: number): Promise<boolean> {
    return this.plane.drain(timeoutMs);
  }

  workers(): WorkerStatus[] {
    return [
      { index: 0, pid: process.pid, state: "serving", uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000), restarts: 0 },
    ];
  }
}

/**
 * Merges per-worker metrics with the supervisor's own registry into one exposition. The data
 * planes' series are summed across workers (each counts its own share of the traffic); the
 * default metrics arrive labelled per worker (process-metrics.ts) and pass through unchanged.
 */
export async function aggregateMetrics(
  perLoop: LoopMetrics[],
  own: LoopMetrics,
): Promise<{ text: string; contentType: string }> {
  const registry = AggregatorRegistry.aggregate([...perLoop, own]);
  return { text: await registry.metrics(), contentType: registry.contentType };
}
