// The least the controller needs of the API, derived from what it watches: list and watch of
// each kind, get of Secrets (a newly referenced one is read at once), the status subresource of
// the kinds whose status it writes, and a get of the Gateway CRD (its bundle version, for the
// GatewayClass SupportedVersion condition). Nothing else: no create, update or delete of any
// object, no access to ConfigMaps or Pods. Leases for leader election are namespaced and granted
// by a Role of their own (leaseRole).
import { Document, isCollection } from "yaml";
import { WATCHED_KINDS, type WatchedKind } from "./kinds.js";

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

function groupOf(k: WatchedKind): string {
  const slash = k.apiVersion.indexOf("/");
  return slash < 0 ? "" : k.apiVersion.slice(0, slash);
}

/** Rules grouped by API group, kinds in a stable order. */
export function controllerRules(kinds: readonly WatchedKind[] = WATCHED_KINDS): PolicyRule[] {
  const byGroup = new Map<string, { read: string[]; status: string[] }>();
  for (const k of kinds) {
    const entry = byGroup.get(groupOf(k)) ?? { read: [], status: [] };
    entry.read.push(k.plural);
    if (k.hasStatus) entry.status.push(`${k.plural}/status`);
    byGroup.set(groupOf(k), entry);
  }
  const rules: PolicyRule[] = [];
  for (const [group, { read, status }] of [...byGroup].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const plain = read.filter((r) => r !== "secrets");
    if (plain.length > 0) rules.push({ apiGroups: [group], resources: plain.sort(), verbs: ["get", "list", "watch"] });
    if (read.includes("secrets")) rules.push({ apiGroups: [group], resources: ["secrets"], verbs: ["get", "list", "watch"] });
    // The writer merge-patches status; its reads are gets of the objects themselves.
    if (status.length > 0) rules.push({ apiGroups: [group], resources: status.sort(), verbs: ["patch"] });
  }
  rules.push({
    apiGroups: ["apiextensions.k8s.io"],
    resources: ["customresourcedefinitions"],
    resourceNames: ["gateways.gateway.networking.k8s.io"],
    verbs: ["get"],
  });
  return rules;
}

/** The ClusterRole a controller's service account is bound to. */
export function controllerClusterRole(name: string): Record<string, unknown> {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name, labels: { "app.kubernetes.io/name": "meshgate", "app.kubernetes.io/component": "controller" } },
    rules: controllerRules(),
  };
}

/** The Role, in the controller's namespace, for its leader-election Lease. */
export function leaseRole(name: string, namespace: string, leaseName = "meshgate-controller"): Record<string, unknown> {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name, namespace, labels: { "app.kubernetes.io/name": "meshgate", "app.kubernetes.io/component": "controller" } },
    // create cannot be limited to a name; get and update can.
    rules: [
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: [leaseName], verbs: ["get", "update"] },
    ],
  };
}

/** The ClusterRole as README shows it: one rule per line. */
export function controllerClusterRoleYaml(name: string): string {
  const doc = new Document(controllerClusterRole(name));
  const flow = (path: string[]) => {
    const node = doc.getIn(path);
    if (isCollection(node)) node.flow = true;
  };
  flow(["metadata", "labels"]);
  const rules = doc.get("rules");
  if (isCollection(rules)) for (const item of rules.items) if (isCollection(item)) item.flow = true;
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
