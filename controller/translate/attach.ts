// Route attachment: which listeners each parentRef selects (by Gateway, sectionName and port),
// which of them admit the route (allowedRoutes kinds and namespaces), and the host names the
// route serves on each (the intersection of its hostnames with the listener's). The outcome
// is one RouteParentStatus per parentRef.
import { GATEWAY_GROUP, type ParentRef } from "../resources/index.js";
import { CONTROLLER_NAME, type Condition, condition } from "../status/conditions.js";
import type { ParentReference, RouteParentStatus } from "../status/report.js";
import { intersectHostname } from "./hostnames.js";
import type { ListenerState } from "./listeners.js";
/** What attachment reads of a compiled HTTPRoute or TLSRoute. */
export interface AttachableRoute {
  kind: "HTTPRoute" | "TLSRoute";
  resource: {
    metadata: { namespace: string; generation: number };
    spec: { parentRefs: ParentRef[]; hostnames: string[] };
  };
  /** "namespace/name". */
  id: string;
  unsupported: string[];
  unresolved?: { reason: string; message: string };
}
import { selectorMatches } from "./selector.js";

/**
 * Adds a backendRef that did not resolve to the route's ResolvedRefs=False: the reason is the
 * first one's (a condition has one), the message names every one, so a reader fixes them all
 * in one go.
 */
export function noteUnresolved(route: Pick<AttachableRoute, "unresolved">, reason: string, message: string): void {
  if (route.unresolved === undefined) route.unresolved = { reason, message };
  else if (!route.unresolved.message.split("; ").includes(message)) route.unresolved.message += `; ${message}`;
}

export interface AttachContext {
  listeners: readonly ListenerState[];
  /** A namespace's labels, "kubernetes.io/metadata.name" always among them. */
  namespaceLabels(ns: string): Record<string, string>;
  /** Adds the route's rules to a listener, serving `hostnames` ([] = every host it accepts). */
  place(listener: ListenerState, hostnames: string[]): void;
}

export function attachRoute(route: AttachableRoute, ctx: AttachContext): RouteParentStatus[] {
  const placed = new Set<ListenerState>();
  return route.resource.spec.parentRefs.map((ref) => attachParent(route, ref, ctx, placed));
}

function attachParent(
  route: AttachableRoute,
  ref: ParentRef,
  ctx: AttachContext,
  placed: Set<ListenerState>,
): RouteParentStatus {
  const routeNs = route.resource.metadata.namespace;
  const gen = route.resource.metadata.generation;
  const parentRef: ParentReference = {
    group: ref.group,
    kind: ref.kind,
    namespace: ref.namespace ?? routeNs,
    name: ref.name,
    ...(ref.sectionName !== undefined && { sectionName: ref.sectionName }),
    ...(ref.port !== undefined && { port: ref.port }),
  };
  const status: RouteParentStatus = { parentRef, controllerName: CONTROLLER_NAME, conditions: [] };
  const finish = (accepted: Condition) => {
    status.conditions.push(accepted, resolvedRefs(route, gen));
    return status;
  };
  // A route refused for its parent still names its rules' unsupported values, so that one
  // look at the status shows everything to fix.
  const refuse = (reason: string, message: string) =>
    finish(condition("Accepted", false, reason, [message, ...route.unsupported].join("; "), gen));

  const gatewayId = `${parentRef.namespace}/${ref.name}`;
  if (ref.group !== GATEWAY_GROUP || ref.kind !== "Gateway")
    return refuse("NoMatchingParent", `parent ${ref.group}/${ref.kind} is not supported (only Gateway)`);
  const ofGateway = ctx.listeners.filter((l) => l.gatewayId === gatewayId);
  if (ofGateway.length === 0) return refuse("NoMatchingParent", `Gateway ${gatewayId} not found`);
  const selected = ofGateway.filter(
    (l) =>
      (ref.sectionName === undefined || l.spec.name === ref.sectionName) &&
      (ref.port === undefined || l.spec.port === ref.port),
  );
  if (selected.length === 0) {
    const which = [
      ref.sectionName !== undefined && `named ${ref.sectionName}`,
      ref.port !== undefined && `on port ${ref.port}`,
    ].filter(Boolean);
    return refuse("NoMatchingParent", `Gateway ${gatewayId} has no listener ${which.join(" ")}`);
  }
  const refusals: string[] = [];
  const admitting = selected.filter((l) => {
    const why = refusal(l, route.kind, routeNs, ctx);
    if (why !== undefined) refusals.push(`listener ${l.spec.name} ${why}`);
    return why === undefined;
  });
  if (admitting.length === 0) return refuse("NotAllowedByListeners", refusals.join("; "));
  // attachedRoutes counts a route on a listener that admits it and shares a hostname with it,
  // programmed or not (the conformance suite counts a route on a listener whose certificate is
  // missing; a route refused for its hostnames is not attached, as Envoy Gateway reports it).
  for (const l of admitting) if (routeHostnames(route, l) !== undefined) l.attached.add(route.id);

  const served = admitting.filter((l) => l.served);
  if (served.length === 0) {
    const names = admitting.map((l) => l.spec.name).join(", ");
    return refuse("NotAllowedByListeners", `listener ${names} is not programmed (see the Gateway's status)`);
  }
  let hostMatches = 0;
  for (const l of served) {
    const hostnames = routeHostnames(route, l);
    if (hostnames === undefined) continue;
    hostMatches++;
    if (placed.has(l)) continue; // two parentRefs selecting one listener place the route once
    placed.add(l);
    ctx.place(l, hostnames);
  }
  if (hostMatches === 0) {
    return refuse(
      "NoMatchingListenerHostname",
      `no hostname of the route (${route.resource.spec.hostnames.join(", ")}) matches a listener hostname`,
    );
  }
  if (route.unsupported.length > 0)
    return finish(condition("Accepted", false, "UnsupportedValue", route.unsupported.join("; "), gen));
  return finish(condition("Accepted", true, "Accepted", "route accepted", gen));
}

/** Why a listener does not admit a route from `routeNs`; undefined when it does. */
function refusal(l: ListenerState, kind: string, routeNs: string, ctx: AttachContext): string | undefined {
  if (!l.status.supportedKinds.some((k) => k.group === GATEWAY_GROUP && k.kind === kind))
    return `does not allow ${kind}s (${l.spec.protocol}, kinds ${l.status.supportedKinds.map((k) => k.kind).join(", ") || "none"})`;
  const { from, selector } = l.spec.allowedRoutes.namespaces;
  const gatewayNs = l.gateway.metadata.namespace;
  if (from === "Same" && routeNs !== gatewayNs) return `allows routes from namespace ${gatewayNs} only`;
  if (
    from === "Selector" &&
    !(selector !== undefined && selectorMatches(selector, ctx.namespaceLabels(routeNs)))
  )
    return `does not select namespace ${routeNs}`;
  return undefined;
}

/** The route's hostnames on a listener; [] means every host the listener accepts; undefined: none match. */
function routeHostnames(route: AttachableRoute, l: ListenerState): string[] | undefined {
  const own = route.resource.spec.hostnames;
  if (own.length === 0) return [];
  const hits = new Set<string>();
  for (const h of own) {
    const hit = intersectHostname(l.spec.hostname, h);
    if (hit !== undefined) hits.add(hit);
  }
  return hits.size === 0 ? undefined : [...hits];
}

function resolvedRefs(route: AttachableRoute, gen: number): Condition {
  const u = route.unresolved;
  return u === undefined
    ? condition("ResolvedRefs", true, "ResolvedRefs", "all references resolved", gen)
    : condition("ResolvedRefs", false, u.reason, u.message, gen);
}
