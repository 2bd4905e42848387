// One listener's entries grouped by hostname specificity: entries naming the host exactly,
// then wildcard entries longest suffix first, then entries for any host. Within a group the
// translator's order (Gateway API precedence) is kept.
import type { HttpListener } from "../snapshot.js";
import { compileAction, type MirrorFactory } from "./action.js";
import { EntrySet } from "./entry-set.js";
import { lookupWildcard, parseHostPattern } from "./hostnames.js";
import { CompiledEntry, type RouteMatch } from "./matcher.js";

/** The entries to try for one host: `first`, then `rest` when none of them matched. */
export interface Candidates {
  first: EntrySet;
  rest: EntrySet;
}

const NONE: readonly CompiledEntry[] = Object.freeze([]);

export class ListenerRoutes {
  readonly info: RouteMatch["listener"];
  /** Entries per exact hostname. */
  private readonly exact = new Map<string, EntrySet>();
  /** Per wildcard suffix: its entries, those of every broader wildcard, then the any-host ones. */
  private readonly chains = new Map<string, EntrySet>();
  private readonly any: EntrySet;

  constructor(listener: HttpListener, mirrors?: MirrorFactory) {
    this.info = Object.freeze({ name: listener.name, gateway: listener.gateway });
    const actions = listener.actions.map((a) => compileAction(a, mirrors));
    const exact = new Map<string, CompiledEntry[]>();
    const wildcards = new Map<string, CompiledEntry[]>();
    const any: CompiledEntry[] = [];
    for (const [i, entry] of listener.entries.entries()) {
      const where = `listener ${listener.name} entry ${i}`;
      const action = actions[entry.action];
      if (action === undefined) throw new Error(`${where}: action ${entry.action} does not exist`);
      const { path } = entry.match;
      const result: RouteMatch = Object.freeze({
        listener: this.info,
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
    for (const [suffix, own] of wildcards) {
      // A Set keeps each entry at its first, most specific position.
      const chain = new Set(own);
      for (let dot = suffix.indexOf(".", 1); dot !== -1; dot = suffix.indexOf(".", dot + 1)) {
        for (const e of wildcards.get(suffix.slice(dot)) ?? NONE) chain.add(e);
      }
      for (const e of any) chain.add(e);
      this.chains.set(suffix, new EntrySet([...chain]));
    }
    for (const [host, own] of exact) this.exact.set(host, new EntrySet(own));
    this.any = new EntrySet(any);
  }

  /** Hostnames some entry names exactly: worth a precomputed lookup. */
  exactHosts(): IterableIterator<string> {
    return this.exact.keys();
  }

  /** For a host not named exactly: the wildcard chain covering it, else the any-host entries. */
  fallback(host: string): EntrySet {
    return lookupWildcard(this.chains, host) ?? this.any;
  }

  candidates(host: string): Candidates {
    return { first: this.exact.get(host) ?? EntrySet.EMPTY, rest: this.fallback(host) };
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
