// The shared rule of route parents[] and policy ancestors[]: entries of other controllers stay
// untouched and in place; meshgate's own are replaced by the report's (one per reference), or
// removed when the report no longer has their reference; new ones go at the end, as long as the
// list has room (the spec: "if this slice is full, implementations MUST NOT add further entries").
import type { Condition } from "../conditions.js";
import { mergeConditions } from "./conditions.js";
import { isRecord, itemsOf } from "./json.js";
import { parentKey } from "./parent-refs.js";

export interface OwnedEntry {
  /** The reference as written (kubeParentRef). */
  ref: Record<string, unknown>;
  conditions: readonly Condition[];
}

export interface EntryListOptions {
  /** "ancestorRef" or "parentRef". */
  refField: string;
  controllerName: string;
  /** Where references without a namespace point. */
  ownNamespace: string;
  maxItems: number;
  now: string;
}

/** The list to write, or undefined when meshgate has nothing in it before or after (nothing to write). */
export function mergeOwnedEntries(
  desired: readonly OwnedEntry[],
  current: unknown,
  options: EntryListOptions,
): unknown[] | undefined {
  const wanted = new Map<string, OwnedEntry>();
  for (const d of desired) {
    const key = parentKey(d.ref, options.ownNamespace);
    if (key !== undefined && !wanted.has(key)) wanted.set(key, d);
  }
  const ours = (item: unknown): item is Record<string, unknown> =>
    isRecord(item) && item["controllerName"] === options.controllerName;
  const entry = (d: OwnedEntry, existing: unknown) => ({
    [options.refField]: d.ref,
    controllerName: options.controllerName,
    // Every condition of meshgate's own entry is meshgate's: a type it stopped reporting goes.
    conditions: mergeConditions(d.conditions, isRecord(existing) ? existing["conditions"] : undefined, {
      now: options.now,
      owns: () => true,
    }),
  });
  const existing = itemsOf(current);
  if (wanted.size === 0 && !existing.some(ours)) return undefined;
  const out: unknown[] = [];
  for (const item of existing) {
    if (!ours(item)) {
      out.push(item);
      continue;
    }
    const key = parentKey(item[options.refField], options.ownNamespace);
    const d = key === undefined ? undefined : wanted.get(key);
    if (d === undefined || key === undefined) continue;
    wanted.delete(key);
    out.push(entry(d, item));
  }
  for (const d of wanted.values()) {
    if (out.length >= options.maxItems) break;
    out.push(entry(d, undefined));
  }
  return out;
}
