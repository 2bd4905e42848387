// A port's route table, compiled once per Snapshot: listener by hostname (listener isolation),
// then route entries grouped by hostname specificity, each group in Gateway API precedence order.
import type {
  Backend,
  Filter,
  HeaderModifier,
  HttpListener,
  PortConfig,
  RouteAction,
  RouteEntry,
} from "../snapshot.js";
import {
  type CompiledHeaderModifier,
  type CompiledPathModifier,
  type CompiledRedirect,
  type CompiledRewrite,
  normalisePrefix,
} from "./filters.js";
import type { RequestInfo } from "./request.js";

export type { CompiledHeaderModifier, CompiledRedirect, CompiledRewrite } from "./filters.js";

export interface CompiledBackend {
  cluster: string | null;
  weight: number;
  requestHeaders?: CompiledHeaderModifier;
  responseHeaders?: CompiledHeaderModifier;
  rewrite?: CompiledRewrite;
}

export interface CompiledAction {
  route: string;
  rule: string;
  redirect?: CompiledRedirect;
  rewrite?: CompiledRewrite;
  requestHeaders?: CompiledHeaderModifier;
  responseHeaders?: CompiledHeaderModifier;
  requestTimeoutMs: number;
  backendRequestTimeoutMs: number;
  /** Weighted choice; undefined when there is no backend or every weight is 0. */
  pickBackend(random?: number): CompiledBackend | undefined;
}

export interface RouteMatch {
  listener: { name: string; gateway: string };
  action: CompiledAction;
  /** The PathPrefix value that matched, for ReplacePrefixMatch. */
  matchedPrefix?: string;
}

interface ValueTest {
  name: string;
  exact?: string;
  regex?: RegExp;
}

interface CompiledEntry {
  /** 0 Exact, 1 PathPrefix, 2 RegularExpression. */
  pathType: 0 | 1 | 2;
  path: string;
  pathRegex?: RegExp;
  method?: string;
  headers: ValueTest[];
  query: ValueTest[];
  action: CompiledAction;
  match: RouteMatch;
}

interface HostTable {
  exact: Map<string, CompiledEntry[]>;
  /** Suffixes (".example.com") longest first. */
  wildcards: { suffix: string; entries: CompiledEntry[] }[];
  any: CompiledEntry[];
}

interface CompiledListener {
  info: { name: string; gateway: string };
  table: HostTable;
}

export class PortRouter {
  private readonly exactListeners = new Map<string, CompiledListener>();
  private readonly wildcardListeners: { suffix: string; listener: CompiledListener }[] = [];
  private anyListener: CompiledListener | undefined;

  constructor(port: PortConfig) {
    for (const listener of port.listeners) {
      const compiled = compileListener(listener);
      const host = listener.hostname;
      if (host === undefined || host === "*") {
        this.anyListener ??= compiled;
      } else if (host.startsWith("*.")) {
        this.wildcardListeners.push({ suffix: host.slice(1).toLowerCase(), listener: compiled });
      } else if (!this.exactListeners.has(host.toLowerCase())) {
        this.exactListeners.set(host.toLowerCase(), compiled);
      }
    }
    this.wildcardListeners.sort((a, b) => b.suffix.length - a.suffix.length);
  }

  route(req: RequestInfo): RouteMatch | undefined {
    const listener = this.listenerFor(req.host);
    if (listener === undefined) return undefined;
    const table = listener.table;
    const query: QueryCache = { raw: req.query, parsed: undefined };
    const exact = table.exact.get(req.host);
    if (exact !== undefined) {
      const hit = firstMatch(exact, req, query);
      if (hit !== undefined) return hit;
    }
    for (const w of table.wildcards) {
      if (wildcardMatches(req.host, w.suffix)) {
        const hit = firstMatch(w.entries, req, query);
        if (hit !== undefined) return hit;
      }
    }
    return firstMatch(table.any, req, query);
  }

  private listenerFor(host: string): CompiledListener | undefined {
    const exact = this.exactListeners.get(host);
    if (exact !== undefined) return exact;
    for (const w of this.wildcardListeners) if (wildcardMatches(host, w.suffix)) return w.listener;
    return this.anyListener;
  }
}

/** "*.example.com" matches "a.example.com" and "a.b.example.com", never "example.com". */
function wildcardMatches(host: string, suffix: string): boolean {
  return host.length > suffix.length && host.endsWith(suffix);
}

interface QueryCache {
  raw: string;
  parsed: Map<string, string> | undefined;
}

function queryValue(cache: QueryCache, name: string): string | undefined {
  if (cache.parsed === undefined) {
    const parsed = new Map<string, string>();
    if (cache.raw.length > 0) {
      for (const pair of cache.raw.split("&")) {
        const eq = pair.indexOf("=");
        const key = safeDecode(eq < 0 ? pair : pair.slice(0, eq));
        // The first value of a repeated parameter is the one matched, as Envoy does.
        if (!parsed.has(key)) parsed.set(key, safeDecode(eq < 0 ? "" : pair.slice(eq + 1)));
      }
    }
    cache.parsed = parsed;
  }
  return cache.parsed.get(name);
}

function safeDecode(s: string): string {
  if (!s.includes("%") && !s.includes("+")) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return s;
  }
}

function firstMatch(entries: CompiledEntry[], req: RequestInfo, query: QueryCache): RouteMatch | undefined {
  for (const e of entries) if (matches(e, req, query)) return e.match;
  return undefined;
}

function matches(e: CompiledEntry, req: RequestInfo, query: QueryCache): boolean {
  const path = req.path;
  switch (e.pathType) {
    case 0:
      if (path !== e.path) return false;
      break;
    case 1:
      if (
        e.path !== "/" &&
        !(path.startsWith(e.path) && (path.length === e.path.length || path.charCodeAt(e.path.length) === 47))
      ) {
        return false;
      }
      break;
    default:
      if (!e.pathRegex?.test(path)) return false;
  }
  if (e.method !== undefined && req.method !== e.method) return false;
  for (const h of e.headers) if (!valueMatches(h, req.headers[h.name])) return false;
  for (const q of e.query) if (!valueMatches(q, queryValue(query, q.name))) return false;
  return true;
}

function valueMatches(test: ValueTest, value: string | undefined): boolean {
  if (value === undefined) return false;
  return test.regex !== undefined ? test.regex.test(value) : value === test.exact;
}

function compileListener(listener: HttpListener): CompiledListener {
  const info = { name: listener.name, gateway: listener.gateway };
  const actions = listener.actions.map(compileAction);
  const table: HostTable = { exact: new Map(), wildcards: [], any: [] };
  const wildcardIndex = new Map<string, CompiledEntry[]>();
  for (const entry of listener.entries) {
    const action = actions[entry.action];
    if (action === undefined)
      throw new Error(`listener ${listener.name}: entry points at missing action ${entry.action}`);
    const compiled = compileEntry(entry, action, info);
    if (entry.hostnames.length === 0 || entry.hostnames.includes("*")) {
      table.any.push(compiled);
      continue;
    }
    for (const raw of new Set(entry.hostnames.map((h) => h.toLowerCase()))) {
      if (raw.startsWith("*.")) {
        const suffix = raw.slice(1);
        let list = wildcardIndex.get(suffix);
        if (list === undefined) {
          list = [];
          wildcardIndex.set(suffix, list);
          table.wildcards.push({ suffix, entries: list });
        }
        list.push(compiled);
      } else {
        let list = table.exact.get(raw);
        if (list === undefined) {
          list = [];
          table.exact.set(raw, list);
        }
        list.push(compiled);
      }
    }
  }
  table.wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
  return { info, table };
}

function anchored(source: string): RegExp {
  return new RegExp(`^(?:${source})$`);
}

function compileEntry(
  entry: RouteEntry,
  action: CompiledAction,
  listener: RouteMatch["listener"],
): CompiledEntry {
  const m = entry.match;
  const pathType = m.path.type === "Exact" ? 0 : m.path.type === "PathPrefix" ? 1 : 2;
  const path = pathType === 1 ? normalisePrefix(m.path.value) : m.path.value;
  const compiled: CompiledEntry = {
    pathType,
    path,
    headers: m.headers.map((h) => valueTest(h.name.toLowerCase(), h.type, h.value)),
    query: m.queryParams.map((q) => valueTest(q.name, q.type, q.value)),
    action,
    match: pathType === 1 ? { listener, action, matchedPrefix: m.path.value } : { listener, action },
  };
  if (pathType === 2) compiled.pathRegex = anchored(m.path.value);
  if (m.method !== undefined) compiled.method = m.method.toUpperCase();
  return compiled;
}

function valueTest(name: string, type: "Exact" | "RegularExpression", value: string): ValueTest {
  return type === "Exact" ? { name, exact: value } : { name, regex: anchored(value) };
}

function compileModifier(mod: HeaderModifier): CompiledHeaderModifier {
  return {
    set: mod.set.map((h) => [h.name.toLowerCase(), h.value]),
    add: mod.add.map((h) => [h.name.toLowerCase(), h.value]),
    remove: mod.remove.map((n) => n.toLowerCase()),
  };
}

function compilePath(
  p:
    | { type: "ReplaceFullPath"; replaceFullPath: string }
    | { type: "ReplacePrefixMatch"; replacePrefixMatch: string },
): CompiledPathModifier {
  return p.type === "ReplaceFullPath"
    ? { type: p.type, value: p.replaceFullPath }
    : { type: p.type, value: p.replacePrefixMatch };
}

interface CompiledFilters {
  requestHeaders?: CompiledHeaderModifier;
  responseHeaders?: CompiledHeaderModifier;
  rewrite?: CompiledRewrite;
  redirect?: CompiledRedirect;
}

function compileFilters(filters: Filter[]): CompiledFilters {
  const out: CompiledFilters = {};
  for (const f of filters) {
    switch (f.type) {
      case "RequestHeaderModifier":
        out.requestHeaders = compileModifier(f.requestHeaderModifier);
        break;
      case "ResponseHeaderModifier":
        out.responseHeaders = compileModifier(f.responseHeaderModifier);
        break;
      case "URLRewrite": {
        const rw: CompiledRewrite = {};
        if (f.urlRewrite.hostname !== undefined) rw.hostname = f.urlRewrite.hostname;
        if (f.urlRewrite.path !== undefined) rw.path = compilePath(f.urlRewrite.path);
        out.rewrite = rw;
        break;
      }
      case "RequestRedirect": {
        const r = f.requestRedirect;
        const redirect: CompiledRedirect = { statusCode: r.statusCode };
        if (r.scheme !== undefined) redirect.scheme = r.scheme;
        if (r.hostname !== undefined) redirect.hostname = r.hostname;
        if (r.port !== undefined) redirect.port = r.port;
        if (r.path !== undefined) redirect.path = compilePath(r.path);
        out.redirect = redirect;
        break;
      }
    }
  }
  return out;
}

function compileBackend(b: Backend): CompiledBackend {
  return { cluster: b.cluster, weight: b.weight, ...compileFilters(b.filters) };
}

function compileAction(a: RouteAction): CompiledAction {
  const backends = a.backends.map(compileBackend);
  const cumulative: number[] = [];
  let total = 0;
  for (const b of backends) {
    total += b.weight;
    cumulative.push(total);
  }
  const single = backends.length === 1 && total > 0 ? backends[0] : undefined;
  const filters = compileFilters(a.filters);
  return {
    route: a.route,
    rule: a.rule,
    ...filters,
    requestTimeoutMs: a.timeouts.requestMs ?? 0,
    backendRequestTimeoutMs: a.timeouts.backendRequestMs ?? 0,
    pickBackend(random = Math.random()) {
      if (single !== undefined) return single;
      if (total === 0) return undefined;
      const point = random * total;
      for (let i = 0; i < cumulative.length; i++) if (point < (cumulative[i] ?? 0)) return backends[i];
      return backends[backends.length - 1];
    },
  };
}
