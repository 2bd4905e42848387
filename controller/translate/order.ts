// Deterministic orders. Kubernetes resolves conflicts in favour of the oldest object, then by
// "{namespace}/{name}"; strings compare by code point so no locale changes an outcome.
import type { ObjectMeta } from "../resources/index.js";

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Oldest first; an object without a creationTimestamp counts as older than any that has one. */
export function compareAge(a: { metadata: ObjectMeta }, b: { metadata: ObjectMeta }): number {
  return (
    compareText(a.metadata.creationTimestamp ?? "", b.metadata.creationTimestamp ?? "") ||
    compareText(`${a.metadata.namespace}/${a.metadata.name}`, `${b.metadata.namespace}/${b.metadata.name}`)
  );
}
