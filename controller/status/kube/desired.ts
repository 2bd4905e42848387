// A status report as the status each Kubernetes object should have: one entry per object meshgate
// writes to, computed against that object's current status when it is written (a read-modify-write,
// as the spec asks). Only what meshgate controls: GatewayClasses with its controllerName, their
// Gateways, route parents on those Gateways, and meshgate's own policies.
import type { GatewayStatus, ParentReference, StatusReport } from "../report.js";
import { GATEWAY_GROUP } from "../../resources/index.js";
import { kubeTime } from "./conditions.js";
import { type GatewayAddress, gatewayStatusBody } from "./gateway.js";
import { gatewayClassStatusBody } from "./gateway-class.js";
import type { JsonObject } from "./json.js";
import { isStatusKind, type ObjectRef } from "./objects.js";
import { policyStatusBody } from "./policy.js";
import { routeStatusBody } from "./route.js";

export interface DesiredStatus {
  ref: ObjectRef;
  /**
   * The object's generation the report was computed from; an object that has moved past it is
   * left alone (the report that follows its change will write it). undefined: nothing to compare.
   */
  observedGeneration: number | undefined;
  /** The whole status to write, given the object's current one. */
  build(current: unknown, now: Date): JsonObject;
}

export interface DesiredStatusOptions {
  /** GatewayClass spec.controllerName that meshgate answers to. */
  controllerName: string;
  /** The gateway.networking.k8s.io/bundle-version of the installed Gateway API CRDs, if they carry one. */
  bundleVersion: string | undefined;
  /** A Gateway's addresses (from its Service); undefined while unknown: what is written stays. */
  addresses?(namespace: string, name: string): readonly GatewayAddress[] | undefined;
}

export function desiredStatuses(report: StatusReport, options: DesiredStatusOptions): DesiredStatus[] {
  const { controllerName } = options;
  const classes = report.gatewayClasses.filter((c) => c.controllerName === controllerName);
  const classNames = new Set(classes.map((c) => c.name));
  const gateways = report.gateways.filter((g) => classNames.has(g.className));
  const gatewayIds = new Set(gateways.map((g) => `${g.namespace}/${g.name}`));
  const ownsParent = (ref: ParentReference) =>
    ref.group === GATEWAY_GROUP && ref.kind === "Gateway" && gatewayIds.has(`${ref.namespace}/${ref.name}`);
  const out: DesiredStatus[] = [];
  for (const c of classes)
    out.push({
      ref: { kind: "GatewayClass", name: c.name },
      observedGeneration: generationOf(c.conditions),
      build: (current, now) => gatewayClassStatusBody(c, current, { bundleVersion: options.bundleVersion, now: kubeTime(now) }),
    });
  for (const g of gateways)
    out.push({
      ref: { kind: "Gateway", namespace: g.namespace, name: g.name },
      observedGeneration: generationOf(gatewayConditions(g)),
      build: (current, now) =>
        gatewayStatusBody(g, current, { addresses: options.addresses?.(g.namespace, g.name), now: kubeTime(now) }),
    });
  for (const [kind, routes] of [["HTTPRoute", report.httpRoutes], ["TLSRoute", report.tlsRoutes]] as const)
    for (const r of routes)
      out.push({
        ref: { kind, namespace: r.namespace, name: r.name },
        // Only the parents meshgate writes: a route on other controllers' Gateways is never "stale".
        observedGeneration: generationOf(r.parents.filter((p) => ownsParent(p.parentRef)).flatMap((p) => p.conditions)),
        build: (current, now) => routeStatusBody(r, current, { controllerName, ownsParent, now: kubeTime(now) }),
      });
  for (const p of report.policies) {
    const kind = p.kind;
    if (!isStatusKind(kind)) continue;
    out.push({
      ref: { kind, namespace: p.namespace, name: p.name },
      observedGeneration: generationOf([...p.conditions, ...p.ancestors.flatMap((a) => a.conditions)]),
      build: (current, now) => policyStatusBody(p, current, { controllerName, now: kubeTime(now) }),
    });
  }
  return out;
}

function gatewayConditions(g: GatewayStatus) {
  return [...g.conditions, ...g.listeners.flatMap((l) => l.conditions)];
}

function generationOf(conditions: readonly { observedGeneration: number }[]): number | undefined {
  return conditions.length === 0 ? undefined : Math.max(...conditions.map((c) => c.observedGeneration));
}
