// HTTPRoute and TLSRoute status.parents[]: one entry per parentRef that names a Gateway meshgate
// controls. A parentRef to another controller's Gateway (or to one that does not exist) gets no
// entry from meshgate: the spec leaves parents meshgate cannot resolve to their own controllers.
import type { ParentReference, RouteStatus } from "../report.js";
import { type JsonObject, recordOf } from "./json.js";
import { mergeOwnedEntries } from "./owned-entries.js";
import { kubeParentRef } from "./parent-refs.js";

/** The CRDs' limit on status.parents. */
const MAX_PARENTS = 32;

export interface RouteInputs {
  controllerName: string;
  /** Is this parent a Gateway of a class meshgate controls? */
  ownsParent(ref: ParentReference): boolean;
  now: string;
}

export function routeStatusBody(entry: RouteStatus, current: unknown, inputs: RouteInputs): JsonObject {
  const status = recordOf(current);
  const parents = mergeOwnedEntries(
    entry.parents
      .filter((p) => inputs.ownsParent(p.parentRef))
      .map((p) => ({ ref: kubeParentRef(p.parentRef), conditions: p.conditions })),
    status["parents"],
    { refField: "parentRef", controllerName: inputs.controllerName, ownNamespace: entry.namespace, maxItems: MAX_PARENTS, now: inputs.now },
  );
  return parents === undefined ? status : { ...status, parents };
}
