// An ordered list of entries indexed by the request path's segments. An entry whose path
// condition fixes a segment ("/api/v1" prefix: "api", then "v1") can only match paths with
// that segment there, so a long list is narrowed level by level before any entry is tested.
// Every sublist keeps the original order and all entries that fix nothing at that depth, so
// the first match is the one a scan of the whole list would find.
import { type CompiledEntry, firstMatch, type RouteMatch } from "./matcher.js";
import { PATH_END } from "./path-shape.js";
import type { RequestInfo } from "./request.js";
import { runNow, type Steps } from "./steps.js";

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
  static readonly EMPTY = new EntrySet([], undefined, undefined);

  private constructor(
    readonly entries: readonly CompiledEntry[],
    /** The narrower set per segment value at this depth. */
    private readonly bySegment: Map<string, EntrySet> | undefined,
    /** For segment values no entry names: only the entries that fix nothing here. */
    private readonly others: EntrySet | undefined,
  ) {}

  /** The set with its index, built at once. */
  static of(entries: readonly CompiledEntry[]): EntrySet {
    return runNow(EntrySet.build(entries));
  }

  /**
   * Builds the set and its index in steps (one per index node, and every few thousand entries).
   * Each level is one pass over its entries: every sublist is filled in that pass, so the cost
   * is the number of slots the index holds (bounded by SLOTS_PER_ENTRY), not entries times
   * distinct segments.
   */
  static *build(
    entries: readonly CompiledEntry[],
    depth = 0,
    budget = { slots: entries.length * SLOTS_PER_ENTRY },
  ): Steps<EntrySet> {
    if (entries.length < INDEX_FROM || depth >= MAX_DEPTH) return new EntrySet(entries, undefined, undefined);
    const keys = entries.map((e) => e.shape.at(depth));
    const lists = new Map<string, CompiledEntry[]>();
    let unfixed = 0;
    for (const k of keys) {
      if (k === undefined) unfixed++;
      else if (!lists.has(k)) lists.set(k, []);
    }
    const slots = entries.length - unfixed + (lists.size + 1) * unfixed;
    if (lists.size === 0 || slots > budget.slots) return new EntrySet(entries, undefined, undefined);
    budget.slots -= slots;
    const others: CompiledEntry[] = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as CompiledEntry;
      const key = keys[i];
      if (key !== undefined) (lists.get(key) as CompiledEntry[]).push(e);
      else {
        // An entry that fixes nothing here keeps its place in every sublist.
        for (const list of lists.values()) list.push(e);
        others.push(e);
      }
      if ((i & 4095) === 4095) yield;
    }
    const bySegment = new Map<string, EntrySet>();
    let built = 0;
    for (const [key, list] of lists) {
      // Most sublists are short and end here, without an index or a generator of their own.
      if (list.length < INDEX_FROM) bySegment.set(key, new EntrySet(list, undefined, undefined));
      else bySegment.set(key, yield* EntrySet.build(list, depth + 1, budget));
      if ((++built & 255) === 0) yield;
    }
    return new EntrySet(entries, bySegment, yield* EntrySet.build(others, depth + 1, budget));
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
