// Builds small Snapshots for data-plane tests, validated exactly as the controller's would be.
import {
  type ClusterInput,
  type PortInput,
  type Snapshot,
  type SnapshotInput,
  validateSnapshot,
} from "../../gateway/snapshot.js";

export function snapshot(input: SnapshotInput): Snapshot {
  const result = validateSnapshot(input);
  if (!result.ok) throw new Error(`test snapshot invalid: ${result.errors.join("; ")}`);
  return result.snapshot;
}

export function cluster(name: string, ports: number[], extra: Partial<ClusterInput> = {}): ClusterInput {
  return { name, endpoints: ports.map((port) => ({ address: "127.0.0.1", port })), ...extra };
}

/** One port, one listener, one route per entry, all sending "/" (or the given prefix) to a cluster. */
export function simplePort(
  port: number,
  routes: {
    prefix?: string;
    hostnames?: string[];
    backends: { cluster: string | null; weight?: number }[];
    requestTimeoutMs?: number;
  }[],
  client: PortInput["client"] = undefined,
): PortInput {
  return {
    port,
    address: "127.0.0.1",
    protocol: "HTTP",
    client,
    listeners: [
      {
        name: "default/gw/http",
        gateway: "default/gw",
        entries: routes.map((r, i) => ({
          hostnames: r.hostnames ?? [],
          match: { path: { type: "PathPrefix" as const, value: r.prefix ?? "/" } },
          action: i,
        })),
        actions: routes.map((r, i) => ({
          route: `default/route-${i}`,
          rule: "0",
          backends: r.backends.map((b) => ({ cluster: b.cluster, weight: b.weight ?? 1 })),
          timeouts: r.requestTimeoutMs === undefined ? {} : { requestMs: r.requestTimeoutMs },
        })),
      },
    ],
  };
}
