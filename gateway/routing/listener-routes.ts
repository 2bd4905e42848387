// One listener's entries grouped by hostname specificity: entries naming the host exactly,
// then wildcard entries longest suffix first, then entries for any host. Within a group the
// translator's order (Gateway API precedence) is kept.
import type { HttpListener } from "../snapshot.js";
import { compileAction, type MirrorFactory } from "./action.js";
import { EntrySet } from "./entry-set.js";
import { lookupWildcard, parseHostPattern } from "./hostnames.js";
import { CompiledEntry, type RouteMatch } from "./matcher.js";
import type { Steps } from "./steps.js";

/**
 * The entries to try for one host, in this order, the first match winning: those naming it
 * exactly, the wildcard entries covering it (most specific suffix first), the any-host ones.
 * The any-host entries are one set shared by every host rather than copied after each wildcard
 * chain, so memory and compile time stay linear in wildcards plus entries.
 */
export interface Candidates {
  readonly exact: EntrySet;
  readonly wildcard: EntrySet;
  readonly any: EntrySet;
}

const NONE: readonly CompiledEntry[] = Object.freeze([]);

export class ListenerRoutes {
  /** Entries per exact hostname. */
  private readonly exact = new Map<string, EntrySet>();
  /** Per wildcard suffix: its entries, then those of every broader wildcard; no exact ones. */
  private readonly chains = new Map<string, Candidates>();
  private readonly anyOnly: Candidates;

  private constructor(
    readonly info: RouteMatch["listener"],
    private readonly any: EntrySet,
  ) {
    this.anyOnly = Object.freeze({ exact: EntrySet.EMPTY, wildcard: EntrySet.EMPTY, any });
  }

  /** Compiles in steps (one per action, entry and index node); throws naming the entry. */
  static *build(listener: HttpListener, mirrors?: MirrorFactory): Steps<ListenerRoutes> {
    const info = Object.freeze({ name: listener.name, gateway: listener.gateway });
    const actions: ReturnType<typeof compileAction>[] = [];
    for (const a of listener.actions) {
      yield;
      actions.push(compileAction(a, mirrors));
    }
    const exact = new Map<string, CompiledEntry[]>();
    const wildcards = new Map<string, CompiledEntry[]>();
    const any: CompiledEntry[] = [];
    for (const [i, entry] of listener.entries.entries()) {
      yield;
      const where = `listener ${listener.name} entry ${i}`;
      const action = actions[entry.action];
      if (action === undefined) throw new Error(`${where}: action ${entry.action} does not exist`);
      const { path } = entry.match;
      const result: RouteMatch = Object.freeze({
        listener: info,
        action,
        matchedPrefix: path.type === "PathPrefix" ? path.value : undefined,
      });
      const compiled = CompiledEntry.compile(entry, result, where);
      const patterns = entry.hostnames.length === 0 ? [undefined] : entry.hostnames;
      for (const raw of patterns) {
        const pattern = parseHostPattern(raw);
        if (pattern.kind === "any") pushOnce(any, compiled);
        else if (pattern.kind === "wildcard") pushOnce(listOf(wildcards, pattern.suffix), compiled);
        else pushOnce(listOf(exact, pattern.host), compiled);
      }
    }
    const routes = new ListenerRoutes(info, yield* EntrySet.build(any));
    for (const [suffix, own] of wildcards) {
      yield;
      // A Set keeps each entry at its first, most specific position.
      const chain = new Set(own);
      for (let dot = suffix.indexOf(".", 1); dot !== -1; dot = suffix.indexOf(".", dot + 1)) {
        for (const e of wildcards.get(suffix.slice(dot)) ?? NONE) chain.add(e);
      }
      const wildcard = yield* EntrySet.build([...chain]);
      routes.chains.set(suffix, Object.freeze({ exact: EntrySet.EMPTY, wildcard, any: routes.any }));
    }
    for (const [host, own] of exact) routes.exact.set(host, yield* EntrySet.build(own));
    return routes;
  }

  /** Hostnames some entry names exactly: worth a precomputed lookup. */
  exactHosts(): IterableIterator<string> {
    return this.exact.keys();
  }

  /** For a host not named exactly: the wildcard chain covering it, else the any-host entries. */
  fallback(host: string): Candidates {
    return lookupWildcard(this.chains, host) ?? this.anyOnly;
  }

  candidates(host: string): Candidates {
    const rest = this.fallback(host);
    return Object.freeze({ exact: this.exact.get(host) ?? EntrySet.EMPTY, wildcard: rest.wildcard, any: this.any });
  }
}

function listOf(map: Map<string, CompiledEntry[]>, key: string): CompiledEntry[] {
  let list = map.get(key);
  if (list === undefined) {
    list = [];
    map.set(key, list);
  }
  return list;
}

/**
 * An entry naming two patterns of one group ("*", "") is listed once. Entries arrive one at a
 * time, so a repeat can only be the last element.
 */
function pushOnce(list: CompiledEntry[], entry: CompiledEntry): void {
  if (list[list.length - 1] !== entry) list.push(entry);
}
