// RFC 7386: a merge patch merges objects key by key and replaces everything else, so a key that
// must go is sent as null. The patch carries the whole desired status (the brief's "write the
// status", not a diff), plus those nulls.
import { isRecord, type JsonObject } from "./json.js";

export function mergePatchTo(current: unknown, desired: JsonObject): JsonObject {
  const before = isRecord(current) ? current : {};
  const patch: JsonObject = {};
  for (const key of Object.keys(before)) if (!(key in desired) || desired[key] === undefined) patch[key] = null;
  for (const [key, value] of Object.entries(desired)) {
    if (value === undefined) continue;
    const old = before[key];
    patch[key] = isRecord(value) && isRecord(old) ? mergePatchTo(old, value) : value;
  }
  return patch;
}

/** What a merge patch does to a document (to check a patch reproduces the status it was made for). */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return patch;
  const out: JsonObject = isRecord(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = applyMergePatch(out[key], value);
  }
  return out;
}
