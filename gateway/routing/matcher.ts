// One route entry's conditions (path, method, headers, query parameters), compiled once and
// tested per request with no allocation.
import { FullMatch } from "../linear-regex.js";
import type { HeaderMatch, QueryMatch, RouteEntry } from "../snapshot.js";
import type { CompiledAction } from "./action.js";
import { trimTrailingSlashes } from "./filters.js";
import { PathShape } from "./path-shape.js";
import { firstQueryValue } from "./query.js";
import type { RequestInfo } from "./request.js";

export interface RouteMatch {
  listener: { name: string; gateway: string };
  action: CompiledAction;
  /** The PathPrefix value that matched, for ReplacePrefixMatch; undefined for other path types. */
  matchedPrefix?: string;
}

const PATH_EXACT = 0;
const PATH_PREFIX = 1;
const PATH_ANY = 2;
const PATH_REGEX = 3;

/** A header or query parameter condition; a missing value never matches. */
class ValueCondition {
  constructor(
    readonly name: string,
    private readonly exact: string,
    private readonly regex: FullMatch | undefined,
  ) {}

  holds(value: string | undefined): boolean {
    // Also rejects inherited properties when the headers are a plain object.
    if (typeof value !== "string") return false;
    return this.regex === undefined ? value === this.exact : this.regex.test(value);
  }
}

export class CompiledEntry {
  private constructor(
    private readonly pathKind: number,
    /** Exact: the path; PathPrefix: the prefix without trailing slash. */
    private readonly path: string,
    private readonly pathRegex: FullMatch | undefined,
    /** Upper-case, or "" for any method. */
    private readonly method: string,
    private readonly headers: readonly ValueCondition[],
    private readonly query: readonly ValueCondition[],
    /** Handed out as is: one object per entry, built once. */
    readonly result: RouteMatch,
    readonly shape: PathShape,
  ) {}

  static compile(entry: RouteEntry, result: RouteMatch, where: string): CompiledEntry {
    const { path, method, headers, queryParams } = entry.match;
    let pathKind = PATH_REGEX;
    let value = path.value;
    let pathRegex: FullMatch | undefined;
    if (path.type === "Exact") pathKind = PATH_EXACT;
    else if (path.type === "PathPrefix") {
      value = trimTrailingSlashes(path.value);
      pathKind = value === "" ? PATH_ANY : PATH_PREFIX;
    } else pathRegex = fullMatch(path.value, `${where} path`);
    return new CompiledEntry(
      pathKind,
      value,
      pathRegex,
      method?.toUpperCase() ?? "",
      conditions(headers, (name) => name.toLowerCase(), `${where} header`),
      conditions(queryParams, (name) => name, `${where} query parameter`),
      result,
      PathShape.of(path),
    );
  }

  /** Method first as the cheapest test; query parameters last, as they may need a parse. */
  matches(req: RequestInfo): boolean {
    if (this.method !== "" && req.method !== this.method) return false;
    const path = req.path;
    switch (this.pathKind) {
      case PATH_EXACT:
        if (path !== this.path) return false;
        break;
      case PATH_PREFIX: {
        const prefix = this.path;
        if (!path.startsWith(prefix)) return false;
        // Whole segments only: "/foo" covers "/foo" and "/foo/…", never "/foobar".
        if (path.length !== prefix.length && path.charCodeAt(prefix.length) !== 47) return false;
        break;
      }
      case PATH_REGEX:
        if (!(this.pathRegex as FullMatch).test(path)) return false;
        break;
    }
    const headers = this.headers;
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i] as ValueCondition;
      if (!h.holds(req.headers[h.name])) return false;
    }
    const query = this.query;
    for (let i = 0; i < query.length; i++) {
      const q = query[i] as ValueCondition;
      if (!q.holds(firstQueryValue(req.query, q.name))) return false;
    }
    return true;
  }
}

/** Returns the first entry's result whose conditions hold, in the given order. */
export function firstMatch(entries: readonly CompiledEntry[], req: RequestInfo): RouteMatch | undefined {
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as CompiledEntry;
    if (e.matches(req)) return e.result;
  }
  return undefined;
}

/** Only the first condition per name counts, as the Gateway API asks; later ones are ignored. */
function conditions(
  list: readonly (HeaderMatch | QueryMatch)[],
  normalise: (name: string) => string,
  where: string,
): ValueCondition[] {
  const seen = new Set<string>();
  const out: ValueCondition[] = [];
  for (const c of list) {
    const name = normalise(c.name);
    if (seen.has(name)) continue;
    seen.add(name);
    const regex = c.type === "RegularExpression" ? fullMatch(c.value, `${where} ${name}`) : undefined;
    out.push(new ValueCondition(name, c.value, regex));
  }
  return out;
}

/** Gateway API regular expressions match the whole value, not a substring; RE2 syntax, linear time. */
function fullMatch(source: string, where: string): FullMatch {
  try {
    return FullMatch.compile(source);
  } catch (err) {
    throw new Error(
      `${where}: invalid regular expression ${JSON.stringify(source)}: ${(err as Error).message}`,
    );
  }
}
