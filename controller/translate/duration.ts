// Gateway API Duration (GEP-2257): one to four <number><unit> parts, units h, m, s, ms,
// e.g. "10s", "500ms", "1h30m". A subset of Go's time.ParseDuration.

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
