// Route parents[] and policy ancestors[] are lists the spec asks to treat as maps keyed by
// (reference, controllerName). A reference as stored may leave out what defaults (group, kind,
// the object's own namespace): two spellings of one parent are one key.
import { GATEWAY_GROUP } from "../../resources/index.js";
import type { ParentReference } from "../report.js";
import { isRecord } from "./json.js";

/** The identity of a parent reference, its defaults filled in from `ownNamespace`. */
export function parentKey(ref: unknown, ownNamespace: string): string | undefined {
  if (!isRecord(ref) || typeof ref["name"] !== "string") return undefined;
  const text = (v: unknown, fallback: string) => (typeof v === "string" && v !== "" ? v : fallback);
  return JSON.stringify([
    text(ref["group"], GATEWAY_GROUP),
    text(ref["kind"], "Gateway"),
    text(ref["namespace"], ownNamespace),
    ref["name"],
    text(ref["sectionName"], ""),
    typeof ref["port"] === "number" ? ref["port"] : 0,
  ]);
}

/** A reference as meshgate writes it: every defaulted field spelt out, so it reads back as written. */
export function kubeParentRef(ref: ParentReference): Record<string, unknown> {
  return {
    group: ref.group,
    kind: ref.kind,
    namespace: ref.namespace,
    name: ref.name,
    ...(ref.sectionName !== undefined && { sectionName: ref.sectionName }),
    ...(ref.port !== undefined && { port: ref.port }),
  };
}
