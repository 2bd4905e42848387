// Messages between a host and its data-plane workers (threads or processes): the host asks, a
// worker answers each ask by id. Plain data: it crosses thread and process boundaries.
import type { ApplyResult } from "../data-plane.js";
import type { LoopMetrics } from "../host.js";
import type { LeaseReply, LeaseRequest } from "../ratelimit/lease-link.js";
import type { RateLimitOptions } from "../ratelimit/runtime.js";
import type { Packed } from "../sliced-clone.js";
import type { LogLevel } from "../telemetry/log-lines.js";

export type WorkerRequest =
  /** The Snapshot cut in pieces (sliced-clone.ts): rebuilt between requests, not in one pause. */
  | { id: number; type: "apply"; packed: Packed }
  | { id: number; type: "metrics" }
  | { id: number; type: "drain"; timeoutMs: number };

export type WorkerReply =
  | { id: number; type: "applied"; result: ApplyResult }
  /** `process`: the worker's default metrics (telemetry/process-metrics.ts), kept apart so
   * the host labels them per worker instead of summing them. */
  | { id: number; type: "metrics"; metrics: LoopMetrics; process: LoopMetrics }
  | { id: number; type: "drained"; drained: boolean }
  | { id: number; type: "error"; message: string };

/** Sent once by a worker process when it can take asks. */
export interface WorkerStarted {
  type: "started";
}

/** Everything a worker sends its host: answers, its start, and its asks for Local limit slots. */
export type FromWorker = WorkerReply | WorkerStarted | LeaseRequest;

/** Everything a host sends a worker. */
export type ToWorker = WorkerRequest | LeaseReply;

/** What a worker needs to build its DataPlane. */
export interface WorkerSettings {
  accessLog: string;
  /** The least severe event logged (the access log is not filtered). */
  logLevel: LogLevel;
  rateLimits: Omit<RateLimitOptions, "localShares" | "onRedisError">;
  /** Local limits are counted by the host's ledger (gateway/ratelimit/local-shares.ts). */
  sharedLocalLimits: boolean;
  /**
   * Whether this worker binds node:net listeners (TLS passthrough ports, shared HTTPS +
   * passthrough ports, PROXY-protocol ports). Worker threads of one process cannot share such a
   * socket in Node 20, so only one thread binds them; worker processes share them through the
   * supervisor (node:cluster), so every one does.
   */
  netFronts: boolean;
}

export type WorkerRequestBody = WorkerRequest extends infer R
  ? R extends { id: number }
    ? Omit<R, "id">
    : never
  : never;
