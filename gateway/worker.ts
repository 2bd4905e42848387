// Entry point of a data-plane worker thread: one DataPlane driven by messages from the host.
import { parentPort, workerData } from "node:worker_threads";
import { DataPlane } from "./data-plane.js";
import type { RateLimitOptions } from "./ratelimit/runtime.js";
import { accessLogFor } from "./telemetry/access-log.js";
import { stdoutEventLog } from "./telemetry/event-log.js";
import type { WorkerReply, WorkerRequest } from "./worker-protocol.js";

const port = parentPort;
if (port === null) throw new Error("gateway/worker.js must run in a worker thread");
const data = workerData as { accessLog: string; rateLimits: RateLimitOptions };
const plane = new DataPlane({
  accessLog: accessLogFor(data.accessLog),
  eventLog: stdoutEventLog(),
  rateLimits: data.rateLimits,
});

port.on("message", (request: WorkerRequest) => {
  handle(request).then(
    (reply) => port.postMessage(reply),
    (err: Error) =>
      port.postMessage({ id: request.id, type: "error", message: err.message } satisfies WorkerReply),
  );
});

async function handle(request: WorkerRequest): Promise<WorkerReply> {
  switch (request.type) {
    case "apply":
      return { id: request.id, type: "applied", result: await plane.apply(request.snapshot) };
    case "metrics":
      return { id: request.id, type: "metrics", metrics: await plane.metrics.registry.getMetricsAsJSON() };
    case "drain":
      return { id: request.id, type: "drained", drained: await plane.drain(request.timeoutMs) };
  }
}
