// The data plane of one worker (thread or process), driven by the host's asks.
import { DataPlane } from "../data-plane.js";
import { accessLogFor } from "../telemetry/access-log.js";
import { stdoutEventLog } from "../telemetry/event-log.js";
import type { WorkerReply, WorkerRequest, WorkerSettings } from "./protocol.js";

/** Builds the worker's DataPlane; the returned function answers one ask through `reply`. */
export function workerLoop(settings: WorkerSettings, reply: (message: WorkerReply) => void): (request: WorkerRequest) => void {
  const plane = new DataPlane({
    accessLog: accessLogFor(settings.accessLog),
    eventLog: stdoutEventLog(),
    rateLimits: settings.rateLimits,
    netFronts: settings.netFronts,
  });
  return (request) => {
    answer(plane, request).then(reply, (err: Error) => reply({ id: request.id, type: "error", message: err.message }));
  };
}

async function answer(plane: DataPlane, request: WorkerRequest): Promise<WorkerReply> {
  switch (request.type) {
    case "apply":
      return { id: request.id, type: "applied", result: await plane.apply(request.snapshot) };
    case "metrics":
      return { id: request.id, type: "metrics", metrics: await plane.metrics.registry.getMetricsAsJSON() };
    case "drain":
      return { id: request.id, type: "drained", drained: await plane.drain(request.timeoutMs) };
  }
}
