// HTTPRoute match precedence across every route on a listener, as the Gateway API orders it:
//   1. Exact path match;  2. PathPrefix with the most characters;  3. a method match;
//   4. the most header matches;  5. the most query param matches;
// then ties go to the oldest route (creationTimestamp), then "{namespace}/{name}" alphabetically,
// then rule order in the route, then match order in the rule.
// RegularExpression paths are implementation-specific in the spec: meshgate places them after
// every Exact and PathPrefix match, ordered among themselves by the same criteria 3-5 and ties.
// Host name precedence is not here: the data plane groups entries by host name, most specific
// group first.
import type { RouteMatch } from "../../gateway/snapshot.js";
import { compareText } from "./order.js";

export interface PrecedenceKey {
  pathType: 0 | 1 | 2;
  pathLength: number;
  method: number;
  headers: number;
  query: number;
  /** ISO timestamp; "" (unknown) sorts as the oldest. */
  created: string;
  route: string;
  rule: number;
  match: number;
}

export function precedenceKey(
  match: RouteMatch,
  route: { created: string; name: string },
  rule: number,
  matchIndex: number,
): PrecedenceKey {
  const type = match.path.type;
  return {
    pathType: type === "Exact" ? 0 : type === "PathPrefix" ? 1 : 2,
    pathLength: type === "RegularExpression" ? 0 : match.path.value.length,
    method: match.method === undefined ? 0 : 1,
    headers: match.headers?.length ?? 0,
    query: match.queryParams?.length ?? 0,
    created: route.created,
    route: route.name,
    rule,
    match: matchIndex,
  };
}

/** Negative when `a` takes precedence over `b`. */
export function comparePrecedence(a: PrecedenceKey, b: PrecedenceKey): number {
  return (
    a.pathType - b.pathType ||
    b.pathLength - a.pathLength ||
    b.method - a.method ||
    b.headers - a.headers ||
    b.query - a.query ||
    compareText(a.created, b.created) ||
    compareText(a.route, b.route) ||
    a.rule - b.rule ||
    a.match - b.match
  );
}
