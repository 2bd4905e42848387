// Snapshot clusters and route actions. A cluster is one Service port as a set of endpoints,
// named "namespace/service:port"; a BackendTrafficPolicy that shapes it adds "@policyNs/policy",
// so one Service reached under two policies becomes two clusters with their own settings.
import type { Backend, ClusterInput, RouteAction, RouteMirror } from "../../gateway/snapshot.js";
import type { Resolution } from "./backends.js";
import { compareText } from "./order.js";
import type { ClusterSettings } from "./policies.js";
import type { AttachedPolicy } from "./policy-targets.js";
import type { CompiledRoute, CompiledRule } from "./rules.js";

export class ClusterRegistry {
  private readonly clusters = new Map<string, ClusterInput>();

  /** The action of `rule` on one listener, with clusters shaped by `policy` (if any). */
  action(
    route: CompiledRoute,
    rule: CompiledRule,
    policy: AttachedPolicy<ClusterSettings> | undefined,
  ): RouteAction {
    const action: RouteAction = {
      route: route.id,
      rule: rule.name,
      filters: rule.filters,
      backends: [],
      mirrors: [],
      timeouts: rule.timeouts,
      ...(rule.retry !== undefined && { retry: rule.retry }),
      rateLimits: [],
    };
    if (rule.broken) {
      // The spec's answer to a rule that cannot be implemented as written: 500 for all of it.
      return {
        ...action,
        filters: [],
        backends: [{ cluster: null, weight: 1, filters: [] }],
        mirrors: [],
        timeouts: {},
      };
    }
    action.backends = rule.backends.map(
      (b): Backend => ({ cluster: this.cluster(b.resolution, policy), weight: b.weight, filters: b.filters }),
    );
    for (const m of rule.mirrors) {
      const cluster = this.cluster(m.resolution, policy);
      // An unresolved mirror is reported in ResolvedRefs and left out: the primary is unaffected.
      if (cluster !== null) action.mirrors.push({ cluster, probability: m.probability } satisfies RouteMirror);
    }
    return action;
  }

  /** The cluster of a resolved reference, registered on first use; null when it did not resolve. */
  private cluster(resolution: Resolution, policy: AttachedPolicy<ClusterSettings> | undefined): string | null {
    if (!resolution.ok) return null;
    const { namespace, service, port, endpoints } = resolution;
    const base = `${namespace}/${service}:${port}`;
    const name = policy === undefined ? base : `${base}@${policy.id}`;
    if (!this.clusters.has(name)) this.clusters.set(name, { name, endpoints, ...(policy?.settings ?? {}) });
    return name;
  }

  list(): ClusterInput[] {
    return [...this.clusters.values()].sort((a, b) => compareText(a.name, b.name));
  }
}
