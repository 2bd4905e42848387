// Gateway API Duration (GEP-2257): one to four <number><unit> parts, units h, m, s, ms,
// e.g. "10s", "500ms", "1h30m". A subset of Go's time.ParseDuration.
import { MAX_TIMER_MS } from "../../gateway/snapshot.js";

const MAX_PARTS = 4;
const MAX_DIGITS = 5;
/** The grammar as a pattern, also the CRDs' (controller/crds): RE2 reads it as JavaScript does. */
export const DURATION_PATTERN = `^(?:[0-9]{1,${MAX_DIGITS}}(?:h|m|s|ms)){1,${MAX_PARTS}}$`;
/** The longest text the grammar allows: every part five digits and a two-letter unit. */
export const DURATION_MAX_LENGTH = MAX_PARTS * (MAX_DIGITS + 2);
const DURATION = new RegExp(DURATION_PATTERN);
const PART = new RegExp(`([0-9]{1,${MAX_DIGITS}})(h|ms|m|s)`, "g");
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** The duration in milliseconds; undefined when `value` is not a Gateway API Duration. */
export function parseDuration(value: string): number | undefined {
  if (!DURATION.test(value)) return undefined;
  let total = 0;
  for (const m of value.matchAll(PART)) total += Number(m[1]) * (UNIT_MS[m[2] ?? ""] ?? 0);
  return total;
}

/** MAX_TIMER_MS as a Duration: 596h31m23s647ms. */
export const MAX_TIMER_TEXT = "596h31m23s647ms";

/**
 * Why a duration cannot be a timeout, or undefined. Node clamps a timer above 2^31-1 ms to 1 ms,
 * so a longer timeout would fire at once: refused with this reason rather than clamped.
 */
export function timeoutProblem(value: string, ms: number): string | undefined {
  if (ms <= MAX_TIMER_MS) return undefined;
  return `"${value}" is longer than ${MAX_TIMER_MS} ms (${MAX_TIMER_TEXT}, 24.8 days), the longest timeout meshgate can hold`;
}
