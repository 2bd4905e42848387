// One LeaseElector in a process of its own, so a test can SIGKILL a leader. Its only argument is
// JSON (ElectorChildConfig). stdout gets one JSON line per event, timed with Date.now() (the
// parent's clock: same machine); SIGTERM stops the elector (releasing the Lease) and exits.
import { KubeClient } from "../../controller/provider/kubernetes/client.js";
import pino from "pino";
import { Registry } from "prom-client";
import { type LeaderTimings, LeaseElector } from "../../controller/leader/elector.js";

export interface ElectorChildConfig {
  kubeconfigPath: string;
  namespace: string;
  name: string;
  identity: string;
  timings?: Partial<LeaderTimings>;
}

/** What the child prints, one per line. */
export type ElectorChildEvent =
  | { event: "campaigning"; identity: string; at: number }
  | { event: "started"; identity: string; at: number }
  | { event: "stopped"; identity: string; at: number; reason: string; sinceLastRenewalMs: number }
  | { event: "new-leader"; identity: string; at: number; leader: string }
  | { event: "exiting"; identity: string; at: number };

const config = JSON.parse(process.argv[2] ?? "{}") as ElectorChildConfig;
const print = (event: ElectorChildEvent) => process.stdout.write(JSON.stringify(event) + "\n");
const identity = config.identity;

const client = new KubeClient({ kubeconfig: config.kubeconfigPath });
const elector = new LeaseElector({
  request: (method, path, body, contentType, signal) => client.json(method, path, body, contentType, signal),
  namespace: config.namespace,
  name: config.name,
  identity,
  ...(config.timings === undefined ? {} : { timings: config.timings }),
  logger: pino({ level: "warn" }, pino.destination(2)),
  registry: new Registry(),
  onStartedLeading: () => print({ event: "started", identity, at: Date.now() }),
  onStoppedLeading: (loss) => print({ event: "stopped", identity, at: Date.now(), ...loss }),
  onNewLeader: (leader) => print({ event: "new-leader", identity, at: Date.now(), leader }),
});
process.once("SIGTERM", () => {
  void elector.stop().then(() => {
    print({ event: "exiting", identity, at: Date.now() });
    process.exit(0);
  });
});
elector.start();
print({ event: "campaigning", identity, at: Date.now() });
