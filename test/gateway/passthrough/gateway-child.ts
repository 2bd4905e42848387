// A passthrough listener in its own process, so a test reads the gateway's memory alone, apart
// from the TLS clients and servers pushing data through it. Driven over IPC by transfer.test.
import { PassthroughListener } from "../../../gateway/passthrough/listener.js";
import type { PassthroughErrorKind, PassthroughMetrics } from "../../../gateway/passthrough/metrics.js";
import { PassthroughTable } from "../../../gateway/passthrough/routes.js";

export type ChildRequest =
  | { kind: "start"; port: number; backendPort: number }
  | { kind: "baseline" }
  | { kind: "report" }
  | { kind: "stop" };

export type ChildReply =
  | { kind: "started" }
  | { kind: "report"; baselineRss: number; peakRss: number; errors: PassthroughErrorKind[]; bytes: number }
  | { kind: "failed"; message: string };

const errors: PassthroughErrorKind[] = [];
let bytes = 0;
const metrics: PassthroughMetrics = {
  connection: () => undefined,
  bytes: (_route, _direction, n) => void (bytes += n),
  error: (_route, kind) => void errors.push(kind),
  proxyRejected: () => undefined,
  active: () => undefined,
};

let listener: PassthroughListener | undefined;
let baselineRss = process.memoryUsage.rss();
let peakRss = baselineRss;
// Sampled often: a burst of buffering between samples would otherwise be missed.
setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 5);

const reply = (message: ChildReply) => process.send?.(message);

process.on("message", (message: ChildRequest) => {
  if (message.kind === "start") {
    listener = new PassthroughListener({ address: "127.0.0.1", port: message.port, metrics });
    listener.setRoutes(
      new PassthroughTable([
        { name: "ns/big", hostnames: [], backends: [{ address: "127.0.0.1", port: message.backendPort, weight: 1 }] },
      ]),
    );
    listener.listen().then(
      () => reply({ kind: "started" }),
      (error: Error) => reply({ kind: "failed", message: error.message }),
    );
  } else if (message.kind === "baseline") {
    baselineRss = peakRss = process.memoryUsage.rss();
    reply({ kind: "report", baselineRss, peakRss, errors, bytes });
  } else if (message.kind === "report") {
    reply({ kind: "report", baselineRss, peakRss, errors, bytes });
  } else {
    void (listener?.close(0) ?? Promise.resolve()).then(() => process.exit(0));
  }
});
