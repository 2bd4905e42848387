// What a path condition says about the segments of every path it matches, for the segment
// index in entry-set.ts. Knowing less is always safe: an unknown segment only means the entry
// is tried for every path.
import type { PathMatch } from "../snapshot.js";
import { trimTrailingSlashes } from "./filters.js";

/** Key for "the path has no segment at this depth". A real segment never contains "/". */
export const PATH_END = "/";

export class PathShape {
  static readonly UNKNOWN = new PathShape([], false);

  constructor(
    /** The leading segments of every matching path. */
    private readonly segments: readonly string[],
    /** True when a matching path has exactly these segments and no more (Exact). */
    private readonly closed: boolean,
  ) {}

  /** The segment at `depth` of every matching path, PATH_END, or undefined when unknown. */
  at(depth: number): string | undefined {
    if (depth < this.segments.length) return this.segments[depth];
    return this.closed ? PATH_END : undefined;
  }

  static of(path: PathMatch): PathShape {
    if (path.type === "RegularExpression") return new PathShape(literalSegments(path.value), false);
    const value = path.type === "PathPrefix" ? trimTrailingSlashes(path.value) : path.value;
    // "/" as a prefix trims to "" and covers every path.
    if (value.charCodeAt(0) !== 47) return PathShape.UNKNOWN;
    return new PathShape(value.slice(1).split("/"), path.type === "Exact");
  }
}

const SPECIAL = "^$.*+?()[]{}|";
const QUANTIFIER = "*+?{";

/**
 * The whole segments spelled out literally at the start of a regular expression: "/items/[0-9]+"
 * gives ["items"]. Any alternation gives nothing, since another branch could start anywhere.
 */
export function literalSegments(source: string): string[] {
  if (source.includes("|")) return [];
  let i = source.startsWith("^") ? 1 : 0;
  let literal = "";
  while (i < source.length) {
    const c = source.charAt(i);
    if (c === "\\") {
      const escaped = source.charAt(i + 1);
      // "\d", "\w", "\1"... stand for more than one character; "\/" or "\." for themselves.
      if (escaped === "" || /[A-Za-z0-9]/.test(escaped)) break;
      literal += escaped;
      i += 2;
    } else if (SPECIAL.includes(c)) {
      break;
    } else {
      literal += c;
      i++;
    }
  }
  // A quantifier right after the run makes its last character optional or repeatable.
  if (i < source.length && QUANTIFIER.includes(source.charAt(i))) literal = literal.slice(0, -1);
  if (literal.charCodeAt(0) !== 47) return [];
  const parts = literal.slice(1).split("/");
  // The last piece may continue past the literal text, so only "/"-terminated ones are sure.
  parts.pop();
  return parts;
}
