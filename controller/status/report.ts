// Status as the Gateway API defines it: conditions per GatewayClass, Gateway, listener, route
// parent and policy; plus what could not be loaded. Plain JSON, printed by `meshgate status`.
import type { LoadError } from "../resources.js";

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  observedGeneration: number;
}

export interface ListenerStatus {
  name: string;
  port: number;
  protocol: string;
  hostname: string | null;
  attachedRoutes: number;
  conditions: Condition[];
}

export interface GatewayStatus {
  namespace: string;
  name: string;
  className: string;
  conditions: Condition[];
  listeners: ListenerStatus[];
}

export interface RouteParentStatus {
  parentRef: { namespace: string; name: string; sectionName?: string; port?: number };
  controllerName: string;
  conditions: Condition[];
}

export interface RouteStatus {
  kind: string;
  namespace: string;
  name: string;
  hostnames: string[];
  parents: RouteParentStatus[];
}

export interface PolicyStatus {
  kind: string;
  namespace: string;
  name: string;
  conditions: Condition[];
}

export interface StatusReport {
  gatewayClasses: { name: string; conditions: Condition[] }[];
  gateways: GatewayStatus[];
  routes: RouteStatus[];
  policies: PolicyStatus[];
  loadErrors: LoadError[];
  /** Reasons a whole configuration was refused (the last good one kept serving). */
  refused?: string[];
}

export const CONTROLLER_NAME = "meshgate.io/gateway-controller";

export function condition(
  type: string,
  ok: boolean,
  reason: string,
  message: string,
  generation: number,
): Condition {
  return { type, status: ok ? "True" : "False", reason, message, observedGeneration: generation };
}

function cond(conditions: Condition[], type: string): string {
  return conditions.find((c) => c.type === type)?.status ?? "-";
}

/** The first False condition's reason and message, which is what a reader needs to act. */
function problem(conditions: Condition[]): string {
  const bad = conditions.find((c) => (c.type === "Conflicted" ? c.status === "True" : c.status === "False"));
  return bad === undefined ? "" : `${bad.reason}: ${bad.message}`;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("   ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

/** kubectl-style tables: one section per kind, problems spelled out in the last column. */
export function formatStatusTable(report: StatusReport): string {
  const out: string[] = [];
  out.push(
    table(
      ["GATEWAY", "CLASS", "ACCEPTED", "PROGRAMMED", "PROBLEM"],
      report.gateways.map((g) => [
        `${g.namespace}/${g.name}`,
        g.className,
        cond(g.conditions, "Accepted"),
        cond(g.conditions, "Programmed"),
        problem(g.conditions),
      ]),
    ),
  );
  out.push(
    table(
      ["LISTENER", "PORT", "PROTOCOL", "HOSTNAME", "ROUTES", "ACCEPTED", "RESOLVED", "PROGRAMMED", "PROBLEM"],
      report.gateways.flatMap((g) =>
        g.listeners.map((l) => [
          `${g.namespace}/${g.name}/${l.name}`,
          String(l.port),
          l.protocol,
          l.hostname ?? "*",
          String(l.attachedRoutes),
          cond(l.conditions, "Accepted"),
          cond(l.conditions, "ResolvedRefs"),
          cond(l.conditions, "Programmed"),
          problem(l.conditions),
        ]),
      ),
    ),
  );
  out.push(
    table(
      ["ROUTE", "HOSTNAMES", "PARENT", "ACCEPTED", "RESOLVED", "PROBLEM"],
      report.routes.flatMap((r) =>
        (r.parents.length > 0 ? r.parents : [undefined]).map((p) => [
          `${r.kind}/${r.namespace}/${r.name}`,
          r.hostnames.length > 0 ? r.hostnames.join(",") : "*",
          p === undefined
            ? "-"
            : `${p.parentRef.namespace}/${p.parentRef.name}${p.parentRef.sectionName ? `/${p.parentRef.sectionName}` : ""}`,
          p === undefined ? "-" : cond(p.conditions, "Accepted"),
          p === undefined ? "-" : cond(p.conditions, "ResolvedRefs"),
          p === undefined ? "no parentRefs" : problem(p.conditions),
        ]),
      ),
    ),
  );
  if (report.policies.length > 0) {
    out.push(
      table(
        ["POLICY", "ACCEPTED", "PROBLEM"],
        report.policies.map((p) => [
          `${p.kind}/${p.namespace}/${p.name}`,
          cond(p.conditions, "Accepted"),
          problem(p.conditions),
        ]),
      ),
    );
  }
  if (report.loadErrors.length > 0) {
    out.push(
      table(
        ["FILE", "DOC", "OBJECT", "ERROR"],
        report.loadErrors.map((e) => [e.file, String(e.document), e.object ?? "-", e.message]),
      ),
    );
  }
  if (report.refused !== undefined && report.refused.length > 0) {
    out.push(
      `REFUSED (the last good configuration keeps serving):\n${report.refused.map((r) => `  ${r}`).join("\n")}\n`,
    );
  }
  return out.join("\n");
}
