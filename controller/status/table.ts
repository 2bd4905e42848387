// `meshgate status`: the report as kubectl-style tables, one section per kind. A reader sees
// at a glance what serves; every condition that needs action shows its reason and message.
import { type Condition, conditionStatus, isProblem } from "./conditions.js";
import type { RouteStatus, StatusReport } from "./report.js";

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** "Reason: message" of each condition that needs action; a message shared by several is said once. */
function problems(conditions: readonly Condition[]): string {
  const byMessage = new Map<string, string>();
  for (const c of conditions.filter(isProblem))
    if (!byMessage.has(c.message)) byMessage.set(c.message, c.reason);
  return [...byMessage].map(([message, reason]) => `${reason}: ${message}`).join("; ");
}

export function formatStatusTable(report: StatusReport): string {
  const sections: string[] = [];
  if (report.refused !== undefined && report.refused.length > 0) {
    sections.push(
      ["REFUSED (the last good configuration keeps serving):", ...report.refused.map((r) => `  ${r}`)].join(
        "\n",
      ),
    );
  }
  sections.push(
    table(
      ["GATEWAYCLASS", "CONTROLLER", "ACCEPTED", "REASON"],
      report.gatewayClasses.map((c) => [
        c.name,
        c.controllerName,
        conditionStatus(c.conditions, "Accepted"),
        problems(c.conditions),
      ]),
    ),
  );
  sections.push(
    table(
      ["GATEWAY", "CLASS", "ADDRESS", "ACCEPTED", "PROGRAMMED", "REASON"],
      report.gateways.map((g) => [
        `${g.namespace}/${g.name}`,
        g.className,
        g.addresses.join(",") || "-",
        conditionStatus(g.conditions, "Accepted"),
        conditionStatus(g.conditions, "Programmed"),
        problems(g.conditions),
      ]),
    ),
  );
  sections.push(
    table(
      ["LISTENER", "PORT", "PROTOCOL", "HOSTNAME", "ATTACHED", "ACCEPTED", "PROGRAMMED", "REASON"],
      report.gateways.flatMap((g) =>
        g.listeners.map((l) => [
          `${g.namespace}/${g.name}/${l.name}`,
          String(l.port),
          l.protocol,
          l.hostname ?? "*",
          String(l.attachedRoutes),
          conditionStatus(l.conditions, "Accepted"),
          conditionStatus(l.conditions, "Programmed"),
          problems(l.conditions),
        ]),
      ),
    ),
  );
  sections.push(routeTable("HTTPROUTE", report.httpRoutes));
  if (report.tlsRoutes.length > 0) sections.push(routeTable("TLSROUTE", report.tlsRoutes));
  if (report.policies.length > 0) {
    sections.push(
      table(
        ["POLICY", "ACCEPTED", "REASON"],
        report.policies.map((p) => [
          `${p.kind}/${p.namespace}/${p.name}`,
          conditionStatus(p.conditions, "Accepted"),
          problems(p.conditions),
        ]),
      ),
    );
  }
  if (report.loadErrors.length > 0) {
    sections.push(
      table(
        ["FILE", "DOC", "OBJECT", "ERROR"],
        report.loadErrors.map((e) => [
          e.file,
          e.document === undefined ? "-" : String(e.document),
          e.object ?? "-",
          e.message,
        ]),
      ),
    );
  }
  return `${sections.join("\n\n")}\n`;
}

function routeTable(kind: string, routes: readonly RouteStatus[]): string {
  return table(
    [kind, "HOSTNAMES", "PARENT", "ACCEPTED", "RESOLVEDREFS", "REASON"],
    routes.flatMap((r) => {
      const hostnames = r.hostnames.join(",") || "*";
      if (r.parents.length === 0) return [[`${r.namespace}/${r.name}`, hostnames, "-", "-", "-", "no parentRefs"]];
      return r.parents.map((p) => [
        `${r.namespace}/${r.name}`,
        hostnames,
        `${p.parentRef.namespace}/${p.parentRef.name}${p.parentRef.sectionName ? `/${p.parentRef.sectionName}` : ""}${p.parentRef.port ? `:${p.parentRef.port}` : ""}`,
        conditionStatus(p.conditions, "Accepted"),
        conditionStatus(p.conditions, "ResolvedRefs"),
        problems(p.conditions),
      ]);
    }),
  );
}
