// Runs the data plane on one or more event loops. With one worker the data plane lives on the
// main thread; with more, each worker thread runs its own DataPlane on the same ports
// (SO_REUSEPORT), and every one applies the same Snapshot.
import { Worker } from "node:worker_threads";
import { AggregatorRegistry } from "prom-client";
import { type ApplyResult, DataPlane, type DataPlaneOptions } from "./data-plane.js";
import type { RateLimitOptions } from "./ratelimit/runtime.js";
import type { Snapshot } from "./snapshot.js";
import { accessLogFor } from "./telemetry/access-log.js";
import { stdoutEventLog } from "./telemetry/event-log.js";
import type { LoopMetrics, WorkerReply, WorkerRequest } from "./worker-protocol.js";

type WorkerRequestBody = WorkerRequest extends infer R
  ? R extends { id: number }
    ? Omit<R, "id">
    : never
  : never;

export interface DataPlaneHost {
  apply(snapshot: Snapshot): Promise<ApplyResult>;
  /** Metrics of every event loop, as prom-client JSON, for aggregation. */
  metrics(): Promise<LoopMetrics[]>;
  drain(timeoutMs: number): Promise<boolean>;
}

export interface HostOptions {
  workers: number;
  /** "off", "stdout" or a file path. */
  accessLog: string;
  /** Plain data: it crosses to worker threads. */
  rateLimits?: Omit<RateLimitOptions, "onRedisError" | "eventLoops">;
}

export function createHost(options: HostOptions): DataPlaneHost {
  if (options.workers <= 1) {
    return new LocalHost({
      accessLog: accessLogFor(options.accessLog),
      eventLog: stdoutEventLog(),
      rateLimits: options.rateLimits ?? {},
    });
  }
  return new WorkerHost(options);
}

class LocalHost implements DataPlaneHost {
  private readonly plane: DataPlane;
  constructor(options: DataPlaneOptions) {
    this.plane = new DataPlane(options);
  }
  apply(snapshot: Snapshot): Promise<ApplyResult> {
    return this.plane.apply(snapshot);
  }
  async metrics(): Promise<LoopMetrics[]> {
    return [await this.plane.metrics.registry.getMetricsAsJSON()];
  }
  drain(timeoutMs: number): Promise<boolean> {
    return this.plane.drain(timeoutMs);
  }
}

class WorkerHost implements DataPlaneHost {
  private readonly workers: Worker[] = [];
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: WorkerReply) => void>();

  constructor(options: HostOptions) {
    for (let i = 0; i < options.workers; i++) {
      const worker = new Worker(new URL("./worker.js", import.meta.url), {
        // Each worker counts Local limits and its insurance share for itself.
        workerData: { accessLog: options.accessLog, rateLimits: { ...options.rateLimits, eventLoops: options.workers } },
      });
      worker.on("message", (reply: WorkerReply) => {
        const resolve = this.waiting.get(reply.id);
        if (resolve !== undefined) {
          this.waiting.delete(reply.id);
          resolve(reply);
        }
      });
      worker.on("error", (err) => {
        process.stderr.write(`meshgate: data plane worker ${i} failed: ${err.stack ?? err.message}\n`);
        process.exitCode = 1;
      });
      this.workers.push(worker);
    }
  }

  private ask(worker: Worker, request: WorkerRequestBody): Promise<WorkerReply> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      worker.postMessage({ ...request, id });
    });
  }

  async apply(snapshot: Snapshot): Promise<ApplyResult> {
    const replies = await Promise.all(this.workers.map((w) => this.ask(w, { type: "apply", snapshot })));
    const portErrors = new Map<number, string>();
    for (const r of replies) {
      if (r.type === "applied") for (const e of r.result.portErrors) portErrors.set(e.port, e.message);
      if (r.type === "error") throw new Error(r.message);
    }
    return {
      version: snapshot.version,
      portErrors: [...portErrors].map(([port, message]) => ({ port, message })),
    };
  }

  async metrics(): Promise<LoopMetrics[]> {
    const replies = await Promise.all(this.workers.map((w) => this.ask(w, { type: "metrics" })));
    return replies.flatMap((r) => (r.type === "metrics" ? [r.metrics] : []));
  }

  async drain(timeoutMs: number): Promise<boolean> {
    const replies = await Promise.all(this.workers.map((w) => this.ask(w, { type: "drain", timeoutMs })));
    await Promise.all(this.workers.map((w) => w.terminate()));
    return replies.every((r) => r.type === "drained" && r.drained);
  }
}

/** Merges per-thread metrics with the main thread's own registry into one exposition. */
export async function aggregateMetrics(
  perLoop: LoopMetrics[],
  own: LoopMetrics,
): Promise<{ text: string; contentType: string }> {
  const registry = AggregatorRegistry.aggregate([...perLoop, own]);
  return { text: await registry.metrics(), contentType: registry.contentType };
}
