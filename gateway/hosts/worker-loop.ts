// The data plane of one worker (thread or process), driven by the host's asks. Local rate limits
// are counted by the host's ledger, asked through the same channel.
import { DataPlane } from "../data-plane.js";
import { LeaseLink } from "../ratelimit/lease-link.js";
import { unpack } from "../sliced-clone.js";
import type { Snapshot } from "../snapshot.js";
import { accessLogFor } from "../telemetry/access-log.js";
import { stdoutEventLog } from "../telemetry/event-log.js";
import { defaultMetricsRegistry, ownProcessMetrics } from "../telemetry/process-metrics.js";
import type { FromWorker, ToWorker, WorkerReply, WorkerRequest, WorkerSettings } from "./protocol.js";

export interface WorkerLoop {
  /** Hand every message from the host here. */
  receive(message: ToWorker): void;
  /** The host is gone: asks for slots fail at once (the worker counts its own share). */
  hostGone(): void;
}

/** Builds the worker's DataPlane; `send` carries its messages to the host (and may throw once it is gone). */
export function workerLoop(settings: WorkerSettings, send: (message: FromWorker) => void): WorkerLoop {
  // Started with the worker, so the first scrape already has its event-loop lag and GC.
  defaultMetricsRegistry();
  const link = settings.sharedLocalLimits ? new LeaseLink(send) : undefined;
  const plane = new DataPlane({
    accessLog: accessLogFor(settings.accessLog),
    eventLog: stdoutEventLog(settings.logLevel),
    rateLimits: link === undefined ? settings.rateLimits : { ...settings.rateLimits, localShares: { channel: link.channel } },
    netFronts: settings.netFronts,
  });
  const reply = (message: WorkerReply): void => {
    try {
      send(message);
    } catch {
      // The host is gone; nobody waits for the answer.
    }
  };
  return {
    receive(message) {
      if (link?.receive(message) === true) return;
      const request = message as WorkerRequest;
      answer(plane, request).then(reply, (err: Error) => reply({ id: request.id, type: "error", message: err.message }));
    },
    hostGone: () => link?.close(),
  };
}

async function answer(plane: DataPlane, request: WorkerRequest): Promise<WorkerReply> {
  switch (request.type) {
    case "apply":
      return { id: request.id, type: "applied", result: await plane.apply((await unpack(request.packed)) as Snapshot) };
    case "metrics":
      return {
        id: request.id,
        type: "metrics",
        metrics: await plane.metrics.registry.getMetricsAsJSON(),
        process: await ownProcessMetrics(),
      };
    case "drain":
      return { id: request.id, type: "drained", drained: await plane.drain(request.timeoutMs) };
  }
}
