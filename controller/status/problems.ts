// What a status report refuses or warns about, one entry per object condition, flat: what the
// standalone gateway logs when a reload newly finds it. Pure, for the log and its tests.
import type { Condition } from "./conditions.js";
import { isProblem } from "./conditions.js";
import type { StatusReport } from "./report.js";

export interface StatusProblem {
  kind: string;
  namespace?: string;
  name: string;
  /** The Gateway's listener, or the parent a route is refused by. */
  section?: string;
  condition: string;
  reason: string;
  message: string;
}

export function statusProblems(report: StatusReport): StatusProblem[] {
  const out: StatusProblem[] = [];
  const add = (object: Omit<StatusProblem, "condition" | "reason" | "message">, conditions: readonly Condition[]): void => {
    for (const c of conditions)
      if (isProblem(c)) out.push({ ...object, condition: c.type, reason: c.reason, message: c.message });
  };
  for (const c of report.gatewayClasses) add({ kind: "GatewayClass", name: c.name }, c.conditions);
  for (const g of report.gateways) {
    add({ kind: "Gateway", namespace: g.namespace, name: g.name }, g.conditions);
    for (const l of g.listeners) add({ kind: "Gateway", namespace: g.namespace, name: g.name, section: l.name }, l.conditions);
  }
  for (const [kind, routes] of [["HTTPRoute", report.httpRoutes], ["TLSRoute", report.tlsRoutes]] as const)
    for (const r of routes)
      for (const p of r.parents)
        add({ kind, namespace: r.namespace, name: r.name, section: parentName(p.parentRef) }, p.conditions);
  for (const p of report.policies) add({ kind: p.kind, namespace: p.namespace, name: p.name }, p.conditions);
  return out;
}

function parentName(ref: { namespace: string; name: string; sectionName?: string }): string {
  return `${ref.namespace}/${ref.name}${ref.sectionName === undefined ? "" : `/${ref.sectionName}`}`;
}

/**
 * Identity of a problem across reloads: the same object and words. Several conditions of one
 * object often carry the same message (a bad Secret: ResolvedRefs and Programmed); it is one problem.
 */
export function problemKey(p: StatusProblem): string {
  return JSON.stringify([p.kind, p.namespace, p.name, p.section, p.message]);
}
