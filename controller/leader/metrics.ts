// The election's two metrics. Several electors may share a registry (one per Lease, or two
// candidates in one test process): each metric is registered once and shared.
import { Counter, Gauge, type Registry } from "prom-client";
import { ERROR_REASONS, type ErrorReason } from "./api-errors.js";

export const ERRORS_METRIC = "meshgate_leader_election_errors_total";
export const LEADER_METRIC = "meshgate_leader";

export class LeaderMetrics {
  private readonly errors: Counter<"reason">;
  private readonly leader: Gauge<"lease">;

  constructor(
    registry: Registry,
    private readonly lease: string,
  ) {
    this.errors =
      (registry.getSingleMetric(ERRORS_METRIC) as Counter<"reason"> | undefined) ??
      new Counter({
        name: ERRORS_METRIC,
        help: "Failed leader-election calls to the API server, by reason (forbidden, unauthorized, conflict, throttled, server-error, rejected, unreachable, timeout, unknown).",
        labelNames: ["reason"] as const,
        registers: [registry],
      });
    this.leader =
      (registry.getSingleMetric(LEADER_METRIC) as Gauge<"lease"> | undefined) ??
      new Gauge({
        name: LEADER_METRIC,
        help: "1 while this process leads (holds the Lease `namespace/name`), else 0.",
        labelNames: ["lease"] as const,
        registers: [registry],
      });
    for (const reason of ERROR_REASONS) this.errors.inc({ reason }, 0);
    this.leader.set({ lease }, 0);
  }

  failed(reason: ErrorReason): void {
    this.errors.inc({ reason });
  }

  leading(yes: boolean): void {
    this.leader.set({ lease: this.lease }, yes ? 1 : 0);
  }
}
