// Gateway API Duration (GEP-2257): one to four <number><unit> parts, units h, m, s, ms,
// e.g. "10s", "500ms", "1h30m". A subset of Go's time.ParseDuration.
import { MAX_TIMER_MS } from "../../gateway/snapshot.js";

const DURATION = /^(?:[0-9]{1,5}(?:h|m|s|ms)){1,4}$/;
const PART = /([0-9]{1,5})(h|ms|m|s)/g;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** The duration in milliseconds; undefined when `value` is not a Gateway API Duration. */
export function parseDuration(value: string): number | undefined {
  if (!DURATION.test(value)) return undefined;
  let total = 0;
  for (const m of value.matchAll(PART)) total += Number(m[1]) * (UNIT_MS[m[2] ?? ""] ?? 0);
  return total;
}

/** MAX_TIMER_MS as a Duration: 596h31m23s647ms. */
const MAX_TIMER_TEXT = "596h31m23s647ms";

/**
 * Why a duration cannot be a timeout, or undefined. Node clamps a timer above 2^31-1 ms to 1 ms,
 * so a longer timeout would fire at once: refused with this reason rather than clamped.
 */
export function timeoutProblem(value: string, ms: number): string | undefined {
  if (ms <= MAX_TIMER_MS) return undefined;
  return `"${value}" is longer than ${MAX_TIMER_MS} ms (${MAX_TIMER_TEXT}, 24.8 days), the longest timeout meshgate can hold`;
}
