// Gateway API hostname rules: a wildcard "*.example.com" stands for any name with at least one
// more label ("a.example.com", "a.b.example.com"), never "example.com" itself.
import { compareText } from "./order.js";

/**
 * The hostname a route serves on a listener: the narrower of the two when one covers the other,
 * undefined when they do not intersect. An absent listener hostname accepts every name.
 */
export function intersectHostname(listener: string | undefined, route: string): string | undefined {
  if (listener === undefined || listener === "*" || listener === route) return route;
  if (listener.startsWith("*.") && covers(listener, route)) return route;
  if (route.startsWith("*.") && covers(route, listener)) return listener;
  return undefined;
}

/** Does wildcard "*.x.y" cover `name` (an exact name, or a narrower wildcard)? */
function covers(wildcard: string, name: string): boolean {
  const suffix = wildcard.slice(1);
  const bare = name.startsWith("*.") ? name.slice(1) : name;
  return bare.length > suffix.length && bare.endsWith(suffix);
}

/**
 * Orders listener hostnames most specific first: exact names, then wildcards (longer first),
 * then none, which accepts every name. Ties are broken by name so the order is stable.
 */
export function compareHostSpecificity(a: string | undefined, b: string | undefined): number {
  const rank = (h: string | undefined) => (h === undefined || h === "*" ? 2 : h.startsWith("*.") ? 1 : 0);
  return rank(a) - rank(b) || (b?.length ?? 0) - (a?.length ?? 0) || compareText(a ?? "", b ?? "");
}
