// Small pure helpers of the Gateway API's rules: hostnames, durations, label selectors.

/**
 * The hostname a route serves on a listener: the more specific of the two when one covers the
 * other, undefined when they do not intersect. Undefined listener hostname means any.
 */
export function intersectHostname(listener: string | undefined, route: string): string | undefined {
  if (listener === undefined || listener === "*") return route;
  if (listener === route) return route;
  if (route.startsWith("*.") && covers(route, listener)) return listener;
  if (listener.startsWith("*.") && covers(listener, route)) return route;
  return undefined;
}

/** Does wildcard pattern "*.x.y" cover `name` (an exact name, or a narrower wildcard)? */
function covers(wildcard: string, name: string): boolean {
  const suffix = wildcard.slice(1);
  const bare = name.startsWith("*.") ? name.slice(1) : name;
  return bare.length > suffix.length ? bare.endsWith(suffix) : false;
}

const DURATION = /^(?:\d{1,5}(?:h|m|s|ms)){1,4}$/;
const PART = /(\d{1,5})(h|ms|m|s)/g;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** Gateway API Duration ("10s", "1h30m", "500ms") in milliseconds; undefined when invalid. */
export function parseDuration(value: string): number | undefined {
  if (!DURATION.test(value)) return undefined;
  let total = 0;
  for (const m of value.matchAll(PART)) total += Number(m[1]) * (UNIT_MS[m[2] ?? ""] ?? 0);
  return total;
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: {
    key: string;
    operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
    values?: string[];
  }[];
}

export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    switch (e.operator) {
      case "In":
        if (!has || !(e.values ?? []).includes(value ?? "")) return false;
        break;
      case "NotIn":
        if (has && (e.values ?? []).includes(value ?? "")) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
    }
  }
  return true;
}
