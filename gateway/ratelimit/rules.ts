// Compiled RateLimitPolicy rules and the pure per-request match that yields a bucket key.
// Everything that can be prepared once (regexes, CIDR block lists, lower-cased header names)
// is prepared in compileRule, when a Snapshot is applied; matchRule only reads.
import { createHash } from "node:crypto";
import { BlockList, isIPv4, isIPv6 } from "node:net";
import { FullMatch } from "../linear-regex.js";
import { quotaPolicy } from "./headers.js";

export type LimitUnit = "Second" | "Minute" | "Hour" | "Day";
export type RuleType = "Global" | "Local";

export interface RateLimit {
  requests: number;
  unit: LimitUnit;
}

export type SelectorSpec =
  | { kind: "SourceCIDR"; type: "Exact" | "Distinct"; value: string }
  | { kind: "Header"; name: string; type: "Exact" | "RegularExpression"; value: string }
  | { kind: "Header"; name: string; type: "Distinct" }
  | { kind: "Method"; value: string }
  | { kind: "PathPrefix"; value: string }
  | { kind: "QueryParam"; name: string; type: "Exact"; value: string }
  | { kind: "QueryParam"; name: string; type: "Distinct" };

export interface RuleSpec {
  id: string;
  selectors: SelectorSpec[];
  limit: RateLimit;
  type: RuleType;
  cost?: number;
  failClosed?: boolean;
}

export interface RequestFacts {
  sourceIp: string;
  method: string;
  path: string;
  /** Header names are expected lower-cased, as the HTTP layer delivers them. */
  headers: Record<string, string>;
  /** The raw query string, with or without the leading "?". */
  query: string;
}

/** A selector ready for the hot path: returns false (no match), true (match) or a distinct value. */
type CompiledSelector = (request: RequestFacts, query: () => URLSearchParams) => boolean | string;

export interface CompiledRule {
  readonly id: string;
  readonly keyPrefix: string;
  readonly limit: RateLimit;
  readonly windowSeconds: number;
  /** The RateLimit-Policy header value, the same for every answer. */
  readonly quotaPolicy: string;
  readonly type: RuleType;
  readonly cost: number;
  readonly failClosed: boolean;
  readonly selectors: readonly CompiledSelector[];
}

const UNIT_SECONDS: Record<LimitUnit, number> = { Second: 1, Minute: 60, Hour: 3600, Day: 86400 };

/** Values longer than this are hashed so keys stay short and bounded. */
const MAX_RAW_VALUE = 64;

export function windowSeconds(unit: LimitUnit): number {
  return UNIT_SECONDS[unit];
}

/** Throws with a clear reason when the spec is invalid, so the Snapshot can be refused. */
export function compileRule(policyId: string, spec: RuleSpec): CompiledRule {
  if (!Number.isInteger(spec.limit.requests) || spec.limit.requests < 1) {
    throw new Error(`rate limit rule ${policyId}/${spec.id}: requests must be a positive integer`);
  }
  if (!(spec.limit.unit in UNIT_SECONDS)) {
    throw new Error(`rate limit rule ${policyId}/${spec.id}: unknown unit ${String(spec.limit.unit)}`);
  }
  const cost = spec.cost ?? 1;
  if (!Number.isInteger(cost) || cost < 1) {
    throw new Error(`rate limit rule ${policyId}/${spec.id}: cost must be a positive integer`);
  }
  return {
    id: spec.id,
    keyPrefix: `${encodeValue(policyId)}/${encodeValue(spec.id)}`,
    limit: { ...spec.limit },
    windowSeconds: UNIT_SECONDS[spec.limit.unit],
    quotaPolicy: quotaPolicy(spec.limit.requests, UNIT_SECONDS[spec.limit.unit]),
    type: spec.type,
    cost,
    failClosed: spec.failClosed ?? false,
    selectors: spec.selectors.map((selector) => compileSelector(`${policyId}/${spec.id}`, selector)),
  };
}

/** The bucket key for a request this rule applies to, or undefined when a selector does not match. */
export function matchRule(rule: CompiledRule, request: RequestFacts): string | undefined {
  if (rule.selectors.length === 0) return rule.keyPrefix;
  let parsedQuery: URLSearchParams | undefined;
  const query = () => (parsedQuery ??= new URLSearchParams(request.query));
  let key = rule.keyPrefix;
  for (let i = 0; i < rule.selectors.length; i++) {
    const result = (rule.selectors[i] as CompiledSelector)(request, query);
    if (result === false) return undefined;
    if (typeof result === "string") key += `|${i}=${encodeValue(result)}`;
  }
  return key;
}

function compileSelector(where: string, spec: SelectorSpec): CompiledSelector {
  switch (spec.kind) {
    case "SourceCIDR": {
      const blockList = parseCidr(where, spec.value);
      const distinct = spec.type === "Distinct";
      return (request) => {
        const address = normaliseIp(request.sourceIp);
        if (address === undefined || !blockList.check(address.ip, address.family)) return false;
        return distinct ? address.ip : true;
      };
    }
    case "Header": {
      const name = spec.name.toLowerCase();
      if (spec.type === "Distinct") {
        return (request) => request.headers[name] ?? false;
      }
      if (spec.type === "RegularExpression") {
        const pattern = compileRegex(where, spec.value);
        return (request) => {
          const value = request.headers[name];
          return value !== undefined && pattern.test(value);
        };
      }
      const expected = spec.value;
      return (request) => request.headers[name] === expected;
    }
    case "Method": {
      const method = spec.value.toUpperCase();
      return (request) => request.method.toUpperCase() === method;
    }
    case "PathPrefix": {
      const prefix = spec.value.length > 1 ? spec.value.replace(/\/+$/, "") : spec.value;
      if (!prefix.startsWith("/")) throw new Error(`rate limit rule ${where}: path prefix must start with "/"`);
      return (request) => pathHasPrefix(stripQuery(request.path), prefix);
    }
    case "QueryParam": {
      const name = spec.name;
      if (spec.type === "Distinct") {
        return (_request, query) => query().get(name) ?? false;
      }
      const expected = spec.value;
      return (_request, query) => query().get(name) === expected;
    }
  }
}

/** Gateway API PathPrefix semantics: "/foo" matches "/foo" and "/foo/bar", never "/foobar". */
function pathHasPrefix(path: string, prefix: string): boolean {
  if (prefix === "/") return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47; /* "/" */
}

function stripQuery(path: string): string {
  const at = path.indexOf("?");
  return at === -1 ? path : path.slice(0, at);
}

function parseCidr(where: string, cidr: string): BlockList {
  const slash = cidr.indexOf("/");
  const network = slash === -1 ? cidr : cidr.slice(0, slash);
  const family = isIPv4(network) ? "ipv4" : isIPv6(network) ? "ipv6" : undefined;
  if (family === undefined) throw new Error(`rate limit rule ${where}: invalid CIDR ${cidr}`);
  const max = family === "ipv4" ? 32 : 128;
  const prefix = slash === -1 ? max : Number(cidr.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new Error(`rate limit rule ${where}: invalid CIDR prefix in ${cidr}`);
  }
  const blockList = new BlockList();
  blockList.addSubnet(network, prefix, family);
  return blockList;
}

/** IPv4-mapped IPv6 sources (dual-stack sockets) are matched and keyed as plain IPv4. */
function normaliseIp(ip: string): { ip: string; family: "ipv4" | "ipv6" } | undefined {
  if (isIPv4(ip)) return { ip, family: "ipv4" };
  if (!isIPv6(ip)) return undefined;
  const lower = ip.toLowerCase();
  if (lower.startsWith("::ffff:") && isIPv4(lower.slice(7))) return { ip: lower.slice(7), family: "ipv4" };
  return { ip: lower, family: "ipv6" };
}

function compileRegex(where: string, source: string): FullMatch {
  try {
    // A full match, as the Gateway API treats RegularExpression; RE2 syntax, linear time.
    return FullMatch.compile(source);
  } catch (error) {
    throw new Error(`rate limit rule ${where}: invalid regular expression: ${(error as Error).message}`);
  }
}

/** Keeps keys unambiguous (the separators "|", "=", "/" are escaped) and bounded in length. */
function encodeValue(value: string): string {
  if (value.length > MAX_RAW_VALUE) {
    return `#${createHash("sha256").update(value).digest("base64url")}`;
  }
  return encodeURIComponent(value);
}
