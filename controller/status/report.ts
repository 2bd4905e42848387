// Status as the Gateway API defines it: conditions per GatewayClass, Gateway, listener, route
// parent and policy, plus what could not be loaded. Plain JSON: `meshgate status --json` prints
// it, the admin port serves it, a Kubernetes provider would write it back to the objects.
import type { LoadError } from "../resources/index.js";
import type { Condition } from "./conditions.js";

export { CONTROLLER_NAME, type Condition, condition, conditionStatus, isProblem } from "./conditions.js";
export { formatStatusTable } from "./table.js";

export interface GatewayClassStatus {
  name: string;
  controllerName: string;
  conditions: Condition[];
}

export interface RouteGroupKind {
  group: string;
  kind: string;
}

export interface ListenerStatus {
  name: string;
  port: number;
  protocol: string;
  /** null: the listener accepts every host name. */
  hostname: string | null;
  supportedKinds: RouteGroupKind[];
  /** Routes whose parentRefs select this listener and that its allowedRoutes admit. */
  attachedRoutes: number;
  conditions: Condition[];
}

export interface GatewayStatus {
  namespace: string;
  name: string;
  className: string;
  /** Where the Gateway's listeners are bound; empty while nothing is programmed. */
  addresses: string[];
  conditions: Condition[];
  listeners: ListenerStatus[];
}

export interface ParentReference {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface RouteParentStatus {
  parentRef: ParentReference;
  controllerName: string;
  conditions: Condition[];
}

export interface RouteStatus {
  namespace: string;
  name: string;
  hostnames: string[];
  parents: RouteParentStatus[];
}

/** What a policy does to one object it targets (GEP-713: status.ancestors[] in Kubernetes). */
export interface PolicyAncestorStatus {
  /** The targeted Gateway or route (with the section when the targetRef names one). */
  ancestorRef: ParentReference;
  conditions: Condition[];
}

export interface PolicyStatus {
  kind: string;
  namespace: string;
  name: string;
  /** The policy as a whole: one Accepted condition summing up its targets. */
  conditions: Condition[];
  /** One entry per distinct targetRef, in the policy's order. */
  ancestors: PolicyAncestorStatus[];
}

export interface StatusReport {
  gatewayClasses: GatewayClassStatus[];
  gateways: GatewayStatus[];
  httpRoutes: RouteStatus[];
  tlsRoutes: RouteStatus[];
  policies: PolicyStatus[];
  /** Files and objects that could not be read; they are left out of the translation. */
  loadErrors: LoadError[];
  /** Why the whole Snapshot was refused (the data plane keeps its last good one). */
  refused?: string[];
}
