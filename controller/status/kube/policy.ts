// meshgate.io policies' status.ancestors[] (GEP-713): one entry per object the policy targets,
// saying what the policy does there. meshgate owns these kinds, but the list is still merged by
// controllerName, as the spec asks of every implementation.
import type { PolicyStatus } from "../report.js";
import { type JsonObject, recordOf } from "./json.js";
import { mergeOwnedEntries } from "./owned-entries.js";
import { kubeParentRef } from "./parent-refs.js";

/** GEP-713's limit on status.ancestors. */
const MAX_ANCESTORS = 16;

export interface PolicyInputs {
  controllerName: string;
  now: string;
}

export function policyStatusBody(entry: PolicyStatus, current: unknown, inputs: PolicyInputs): JsonObject {
  const status = recordOf(current);
  const ancestors = mergeOwnedEntries(
    entry.ancestors.map((a) => ({ ref: kubeParentRef(a.ancestorRef), conditions: a.conditions })),
    status["ancestors"],
    { refField: "ancestorRef", controllerName: inputs.controllerName, ownNamespace: entry.namespace, maxItems: MAX_ANCESTORS, now: inputs.now },
  );
  return ancestors === undefined ? status : { ...status, ancestors };
}
