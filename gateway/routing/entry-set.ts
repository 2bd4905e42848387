// An ordered list of entries indexed by the request path's segments. An entry whose path
// condition fixes a segment ("/api/v1" prefix: "api", then "v1") can only match paths with
// that segment there, so a long list is narrowed level by level before any entry is tested.
// Every sublist keeps the original order and all entries that fix nothing at that depth, so
// the first match is the one a scan of the whole list would find.
import { type CompiledEntry, firstMatch, type RouteMatch } from "./matcher.js";
import { PATH_END } from "./path-shape.js";
import type { RequestInfo } from "./request.js";

/** Below this many entries a plain scan costs less than cutting out a segment. */
const INDEX_FROM = 8;
const MAX_DEPTH = 8;
/**
 * Entries that fix no segment are copied into every sublist. Past this many list slots per
 * entry of the whole list, the rest of the index is left out and those sublists are scanned:
 * memory and compile time stay linear whatever the configuration.
 */
const SLOTS_PER_ENTRY = 8;

export class EntrySet {
  static readonly EMPTY = new EntrySet([]);

  /** The narrower set per segment value at this depth. */
  private readonly bySegment: Map<string, EntrySet> | undefined;
  /** For segment values no entry names: only the entries that fix nothing here. */
  private readonly others: EntrySet | undefined;

  constructor(
    readonly entries: readonly CompiledEntry[],
    depth = 0,
    budget = { slots: entries.length * SLOTS_PER_ENTRY },
  ) {
    if (entries.length < INDEX_FROM || depth >= MAX_DEPTH) return;
    const keys = entries.map((e) => e.shape.at(depth));
    const distinct = new Set(keys.filter((k) => k !== undefined));
    const unfixed = keys.filter((k) => k === undefined).length;
    const slots = entries.length - unfixed + (distinct.size + 1) * unfixed;
    if (distinct.size === 0 || slots > budget.slots) return;
    budget.slots -= slots;
    this.bySegment = new Map();
    for (const key of distinct) {
      const narrowed = entries.filter((_, i) => keys[i] === undefined || keys[i] === key);
      this.bySegment.set(key, new EntrySet(narrowed, depth + 1, budget));
    }
    this.others = new EntrySet(
      entries.filter((_, i) => keys[i] === undefined),
      depth + 1,
      budget,
    );
  }

  match(req: RequestInfo): RouteMatch | undefined {
    // Segments are counted from a leading "/"; anything else gets the plain scan.
    return req.path.charCodeAt(0) === 47 ? this.matchFrom(req, 1) : firstMatch(this.entries, req);
  }

  /** `offset`: where this depth's segment starts in the path, past its end when there is none. */
  private matchFrom(req: RequestInfo, offset: number): RouteMatch | undefined {
    const index = this.bySegment;
    if (index === undefined) return firstMatch(this.entries, req);
    const path = req.path;
    let segment = PATH_END;
    let next = offset;
    if (offset <= path.length) {
      const slash = path.indexOf("/", offset);
      const end = slash === -1 ? path.length : slash;
      segment = path.slice(offset, end);
      next = end + 1;
    }
    return (index.get(segment) ?? (this.others as EntrySet)).matchFrom(req, next);
  }
}
