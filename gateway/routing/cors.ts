// The HTTPRoute CORS filter (Gateway API HTTPCORSFilter, GEP-1767), compiled once per Snapshot:
// origin patterns into a set and suffix list, header values joined. Per request it answers two
// questions: what a preflight gets, and which headers an actual response gains.
import type { CorsConfig } from "../snapshot.js";
import type { CompiledHeaderModifier } from "./filters.js";

const DEFAULT_PORT: Record<string, number> = { http: 80, https: 443 };

/**
 * An Origin as browsers serialise it: scheme, host (DNS labels or a bracketed IPv6 literal) and
 * an optional port. Anything else ("null", paths, spaces) matches no pattern, and is never echoed.
 */
const ORIGIN = /^(https?):\/\/([a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const TOKEN_LIST = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*,[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$/;

interface ParsedOrigin {
  scheme: string;
  host: string;
  port: number;
}

/** Lower-cased, with the scheme's port filled in; undefined when `text` is not an origin. */
export function parseOrigin(text: string): ParsedOrigin | undefined {
  const m = ORIGIN.exec(text.toLowerCase());
  if (m === null) return undefined;
  const scheme = m[1] as string;
  const port = m[3] === undefined ? (DEFAULT_PORT[scheme] as number) : Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { scheme, host: m[2] as string, port };
}

/** A pattern "scheme://*.suffix[:port]" or "scheme://*[:port]" (suffix ""). */
interface WildcardOrigin {
  scheme: string;
  /** ".example.com": one or more labels must precede it. "" matches every host. */
  suffix: string;
  port: number;
}

export interface CompiledCors {
  /**
   * The headers of the gateway's own answer to a preflight from `origin`, or undefined when the
   * origin is not allowed (answered without any CORS header).
   */
  preflight(origin: string, requestMethod: string, requestHeaders: string | undefined): Record<string, string> | undefined;
  /** What an actual (non-preflight) response gains; `origin` undefined when the request had none. */
  actual(origin: string | undefined): CompiledHeaderModifier;
}

const ACAO = "access-control-allow-origin";
const ACAC = "access-control-allow-credentials";
const ACEH = "access-control-expose-headers";

class CorsPolicy implements CompiledCors {
  private readonly anyOrigin: boolean;
  /** "*" without credentials: every origin gets the literal "*", the same answer for all. */
  private readonly literalStar: boolean;
  private readonly exact = new Set<string>();
  private readonly wildcards: WildcardOrigin[] = [];
  private readonly credentials: boolean;
  private readonly methods: string | undefined;
  private readonly echoMethod: boolean;
  private readonly headers: string | undefined;
  private readonly echoHeaders: boolean;
  private readonly expose: string | undefined;
  private readonly maxAge: string;
  /** Responses to disallowed origins, or requests without one: the gateway's CORS headers only. */
  private readonly refused: CompiledHeaderModifier;
  private readonly star: CompiledHeaderModifier | undefined;

  constructor(cfg: CorsConfig) {
    this.credentials = cfg.allowCredentials;
    this.anyOrigin = cfg.allowOrigins.includes("*");
    this.literalStar = this.anyOrigin && !this.credentials;
    for (const pattern of cfg.allowOrigins) this.addPattern(pattern);
    this.echoMethod = cfg.allowMethods.includes("*");
    this.methods = this.echoMethod || cfg.allowMethods.length === 0 ? undefined : cfg.allowMethods.join(", ");
    this.echoHeaders = cfg.allowHeaders.includes("*");
    this.headers = this.echoHeaders || cfg.allowHeaders.length === 0 ? undefined : cfg.allowHeaders.join(", ");
    this.expose = cfg.exposeHeaders.length === 0 ? undefined : cfg.exposeHeaders.join(", ");
    this.maxAge = String(cfg.maxAgeSeconds);
    // The gateway owns CORS on this route: a backend's own Allow-Origin never reaches a
    // disallowed origin. Vary: Origin tells caches the answer depends on the origin.
    const remove = [ACAO, ACAC, ACEH];
    this.refused = { set: [], add: this.literalStar ? [] : [["vary", "Origin"]], remove };
    this.star = this.literalStar
      ? {
          set: this.expose === undefined ? [[ACAO, "*"]] : [[ACAO, "*"], [ACEH, this.expose]],
          add: [],
          remove: this.expose === undefined ? [ACAC, ACEH] : [ACAC],
        }
      : undefined;
  }

  private addPattern(pattern: string): void {
    if (pattern === "*") return;
    const m = /^(https?):\/\/(\*|\*\.[^:]+|[^:*]+)(?::([0-9]{1,5}))?$/.exec(pattern.toLowerCase());
    if (m === null) return; // The controller refuses these; a hand-written one matches nothing.
    const scheme = m[1] as string;
    const host = m[2] as string;
    const port = m[3] === undefined ? (DEFAULT_PORT[scheme] as number) : Number(m[3]);
    if (host === "*") this.wildcards.push({ scheme, suffix: "", port });
    else if (host.startsWith("*.")) this.wildcards.push({ scheme, suffix: host.slice(1), port });
    else this.exact.add(`${scheme}://${host}:${port}`);
  }

  /** The Access-Control-Allow-Origin value for `origin`, or undefined when it is not allowed. */
  private allowOrigin(origin: string): string | undefined {
    if (this.literalStar) return "*";
    const o = parseOrigin(origin);
    if (o === undefined) return undefined;
    if (this.anyOrigin) return origin;
    if (this.exact.has(`${o.scheme}://${o.host}:${o.port}`)) return origin;
    for (const w of this.wildcards) {
      if (w.scheme !== o.scheme || w.port !== o.port) continue;
      // "*" stands for one or more labels: the host must be longer than ".suffix" and end in it,
      // so "evil-example.com" is not "*.example.com".
      if (w.suffix === "" || (o.host.length > w.suffix.length && o.host.endsWith(w.suffix))) return origin;
    }
    return undefined;
  }

  preflight(origin: string, requestMethod: string, requestHeaders: string | undefined): Record<string, string> | undefined {
    const allowed = this.allowOrigin(origin);
    if (allowed === undefined) return undefined;
    const out: Record<string, string> = { [ACAO]: allowed };
    if (this.credentials) out[ACAC] = "true";
    // "*" answers with what was asked for: a literal "*" means nothing to a browser sending
    // credentials, and the conformance suite expects the requested method either way.
    const methods = this.echoMethod ? (TOKEN.test(requestMethod) ? requestMethod : undefined) : this.methods;
    if (methods !== undefined) out["access-control-allow-methods"] = methods;
    const headers = this.echoHeaders
      ? requestHeaders !== undefined && TOKEN_LIST.test(requestHeaders.trim())
        ? requestHeaders.trim()
        : undefined
      : this.headers;
    if (headers !== undefined) out["access-control-allow-headers"] = headers;
    if (this.expose !== undefined) out[ACEH] = this.expose;
    out["access-control-max-age"] = this.maxAge;
    if (allowed !== "*") out["vary"] = "Origin";
    return out;
  }

  actual(origin: string | undefined): CompiledHeaderModifier {
    if (this.star !== undefined) return origin === undefined ? NOTHING : this.star;
    const allowed = origin === undefined ? undefined : this.allowOrigin(origin);
    if (allowed === undefined) return this.refused;
    const set: [string, string][] = [[ACAO, allowed]];
    const remove: string[] = [];
    if (this.credentials) set.push([ACAC, "true"]);
    else remove.push(ACAC);
    if (this.expose !== undefined) set.push([ACEH, this.expose]);
    else remove.push(ACEH);
    return { set, add: [["vary", "Origin"]], remove };
  }
}

const NOTHING: CompiledHeaderModifier = { set: [], add: [], remove: [] };

export function compileCors(cfg: CorsConfig): CompiledCors {
  return new CorsPolicy(cfg);
}
