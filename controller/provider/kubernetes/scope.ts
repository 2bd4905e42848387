// What of a cluster is meshgate's: the Gateways of its GatewayClasses (the provider keeps only
// classes with meshgate's controllerName), and of routes and policies only what concerns those
// Gateways. Another controller's Gateway gets neither a listener nor a status line from here;
// a route's parentRef to it is left to that controller.
import { GATEWAY_GROUP, objectName, type Resource } from "../../resources/index.js";
import type { StatusReport } from "../../status/report.js";

/** The resources translation sees: every object, but Gateways only of meshgate's classes. */
export function inScope(resources: readonly Resource[]): Resource[] {
  const classes = new Set(resources.filter((r) => r.kind === "GatewayClass").map((r) => r.metadata.name));
  return resources.filter((r) => r.kind !== "Gateway" || classes.has(r.spec.gatewayClassName));
}

/**
 * The status report narrowed to what meshgate may write: route parents that are meshgate's
 * Gateways (a parentRef to another controller's Gateway, or to none, is not ours to answer),
 * each under this controller's name.
 */
export function scopedReport(report: StatusReport, resources: readonly Resource[], controllerName: string): StatusReport {
  const gateways = new Set(
    resources.filter((r) => r.kind === "Gateway").map((g) => objectName(g)),
  );
  const ours = (p: { parentRef: { group: string; kind: string; namespace: string; name: string } }) =>
    p.parentRef.group === GATEWAY_GROUP &&
    p.parentRef.kind === "Gateway" &&
    gateways.has(objectName({ kind: "Gateway", metadata: { namespace: p.parentRef.namespace, name: p.parentRef.name } }));
  const named = <P extends { controllerName: string }>(p: P): P => ({ ...p, controllerName });
  return {
    ...report,
    httpRoutes: report.httpRoutes.map((r) => ({ ...r, parents: r.parents.filter(ours).map(named) })),
    tlsRoutes: report.tlsRoutes.map((r) => ({ ...r, parents: r.parents.filter(ours).map(named) })),
  };
}
