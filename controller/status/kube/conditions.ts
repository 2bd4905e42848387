// metav1.Condition as the Gateway API asks controllers to write them: merged by type into what is
// there (never a second condition of one type), lastTransitionTime kept while the status stays
// the same, conditions of types meshgate does not set left alone, and a condition written for a
// newer generation than meshgate knows left for the newer view's writer to update.
import type { Condition } from "../conditions.js";
import { isRecord, itemsOf } from "./json.js";

export interface KubeCondition {
  type: string;
  status: "True" | "False" | "Unknown";
  observedGeneration: number;
  /** RFC 3339, seconds (metav1.Time). */
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/** The CRDs' limit on a condition's message. */
export const MAX_MESSAGE_LENGTH = 32_768;

/** metav1.Time: RFC 3339 in UTC with whole seconds, as kubectl prints it. */
export function kubeTime(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, "Z");
}

/** Within the CRDs' limit; a cut message ends with an ellipsis and never halves a character. */
export function fitMessage(message: string): string {
  if (message.length <= MAX_MESSAGE_LENGTH) return message;
  let cut = message.slice(0, MAX_MESSAGE_LENGTH - 1);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${cut}…`;
}

export interface MergeOptions {
  /** metav1.Time of this computation: the lastTransitionTime of a condition whose status changes. */
  now: string;
  /**
   * Types meshgate owns at this place: one of them that meshgate no longer reports is removed.
   * Any other type someone else wrote stays, untouched and in place.
   */
  owns(type: string): boolean;
}

/**
 * The conditions to write: each current one in its place (replaced when meshgate reports its
 * type, removed when meshgate owns the type and no longer reports it), then the new types in
 * the report's order.
 */
export function mergeConditions(desired: readonly Condition[], current: unknown, options: MergeOptions): unknown[] {
  const wanted = new Map<string, Condition>();
  for (const c of desired) if (!wanted.has(c.type)) wanted.set(c.type, c);
  const out: unknown[] = [];
  for (const existing of itemsOf(current)) {
    const type = isRecord(existing) && typeof existing["type"] === "string" ? existing["type"] : undefined;
    if (type === undefined || !wanted.has(type)) {
      if (type === undefined || !options.owns(type)) out.push(existing);
      continue;
    }
    const c = wanted.get(type) as Condition;
    wanted.delete(type);
    out.push(merged(c, existing as Record<string, unknown>, options.now));
  }
  for (const c of wanted.values()) out.push(merged(c, undefined, options.now));
  return out;
}

function merged(c: Condition, existing: Record<string, unknown> | undefined, now: string): unknown {
  const seenGeneration = existing?.["observedGeneration"];
  // Computed from a newer object than ours: ours is stale, and a newer report will follow.
  if (typeof seenGeneration === "number" && seenGeneration > c.observedGeneration) return existing;
  const since = existing?.["lastTransitionTime"];
  const kept = existing?.["status"] === c.status && typeof since === "string" && since !== "";
  const out: KubeCondition = {
    type: c.type,
    status: c.status,
    observedGeneration: c.observedGeneration,
    lastTransitionTime: kept ? since : now,
    reason: c.reason,
    message: fitMessage(c.message),
  };
  return out;
}
