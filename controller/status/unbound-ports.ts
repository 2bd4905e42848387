// What the data plane could not bind, folded into the status translation computed: a listener
// whose port another process holds (or that cannot be bound at all) is not served, and its
// conditions must say so rather than Programmed=True.
import { condition, type Condition } from "./conditions.js";
import type { GatewayStatus, StatusReport } from "./report.js";

export interface UnboundPort {
  port: number;
  message: string;
}

export function withUnboundPorts(report: StatusReport, unbound: readonly UnboundPort[]): StatusReport {
  if (unbound.length === 0) return report;
  const reasons = new Map(unbound.map((u) => [u.port, u.message]));
  return { ...report, gateways: report.gateways.map((g) => gatewayWith(g, reasons)) };
}

function gatewayWith(gateway: GatewayStatus, reasons: ReadonlyMap<number, string>): GatewayStatus {
  if (!gateway.listeners.some((l) => reasons.has(l.port) && programmed(l.conditions))) return gateway;
  const listeners = gateway.listeners.map((l) => {
    const reason = reasons.get(l.port);
    if (reason === undefined || !programmed(l.conditions)) return l;
    const gen = l.conditions[0]?.observedGeneration ?? 0;
    const conditions = l.conditions.map((c) => {
      if (c.type === "Accepted") return condition("Accepted", false, "PortUnavailable", reason, gen);
      if (c.type === "Programmed") return condition("Programmed", false, "Invalid", reason, gen);
      return c;
    });
    return { ...l, conditions };
  });
  const served = listeners.filter((l) => programmed(l.conditions)).length;
  const gen = gateway.conditions[0]?.observedGeneration ?? 0;
  const conditions = gateway.conditions.map((c) => {
    if (c.type === "Programmed")
      return served > 0
        ? condition("Programmed", true, "Programmed", `${served} listener(s) programmed`, gen)
        : condition("Programmed", false, "Invalid", "no listener can be served", gen);
    if (c.type === "Accepted" && c.status === "True")
      return condition("Accepted", true, "ListenersNotValid", `${listeners.length - served} of ${listeners.length} listeners are not served`, gen);
    return c;
  });
  return { ...gateway, listeners, conditions, addresses: served > 0 ? gateway.addresses : [] };
}

function programmed(conditions: readonly Condition[]): boolean {
  return conditions.some((c) => c.type === "Programmed" && c.status === "True");
}
