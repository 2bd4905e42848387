// One HTTPRoute's rules compiled once, whatever listeners it attaches to: matches in the
// Snapshot's form, filters, timeouts, resolved backendRefs, and the values meshgate cannot
// implement (such a rule answers 500 and the route reports Accepted=False UnsupportedValue).
import {
  type Filter,
  type HeaderMatch,
  type QueryMatch,
  regexProblem,
  type RouteMatch,
  type RouteRetry,
} from "../../gateway/snapshot.js";
import type { HTTPRouteRuleSpec, ResourceOf, RouteMatchSpec } from "../resources/index.js";
import { noteUnresolved } from "./attach.js";
import type { BackendIndex, Resolution } from "./backends.js";
import { parseDuration, timeoutProblem } from "./duration.js";
import { convertFilters, type MirrorRef } from "./filters.js";

export interface CompiledBackend {
  resolution: Resolution;
  weight: number;
  filters: Filter[];
}

export interface CompiledMirror {
  resolution: Resolution;
  probability: number;
}

export interface CompiledRule {
  index: number;
  /** The rule's name, or its index as a string. */
  name: string;
  matches: RouteMatch[];
  filters: Filter[];
  timeouts: { requestMs?: number; backendRequestMs?: number };
  /** The rule's own retry (GEP-1731); absent: the cluster's retry policy decides. */
  retry?: RouteRetry;
  backends: CompiledBackend[];
  /** RequestMirror filters; an unresolved one is dropped from the action. */
  mirrors: CompiledMirror[];
  /** Holds a value meshgate cannot implement: the rule answers 500. */
  broken: boolean;
}

export interface CompiledRoute {
  kind: "HTTPRoute";
  resource: ResourceOf<"HTTPRoute">;
  /** "namespace/name". */
  id: string;
  created: string;
  rules: CompiledRule[];
  /** Why the route is Accepted=False UnsupportedValue; empty when it is not. */
  unsupported: string[];
  /** The backendRefs that did not resolve, for ResolvedRefs=False (the first one's reason). */
  unresolved?: { reason: string; message: string };
}

export function compileRoute(route: ResourceOf<"HTTPRoute">, backends: BackendIndex): CompiledRoute {
  const ns = route.metadata.namespace;
  const compiled: CompiledRoute = {
    kind: "HTTPRoute",
    resource: route,
    id: `${ns}/${route.metadata.name}`,
    created: route.metadata.creationTimestamp ?? "",
    rules: [],
    unsupported: [],
  };
  route.spec.rules.forEach((spec, index) => {
    const name = spec.name ?? String(index);
    const problems: string[] = [];
    const where = `rule ${name}`;
    const mirrorRefs: MirrorRef[] = [];
    const rule: CompiledRule = {
      index,
      name,
      matches: compileMatches(spec.matches, where, problems),
      filters: convertFilters(spec.filters, where, problems, mirrorRefs),
      timeouts: compileTimeouts(spec.timeouts, where, problems),
      backends: spec.backendRefs.map((ref, bi) => {
        const resolution = backends.resolve(ref, "HTTPRoute", ns);
        if (!resolution.ok) noteUnresolved(compiled, resolution.reason, resolution.message);
        return {
          resolution,
          weight: ref.weight,
          filters: convertFilters(ref.filters, `${where} backendRef ${bi}`, problems),
        };
      }),
      mirrors: [],
      broken: false,
    };
    rule.mirrors = mirrorRefs.map((m) => {
      const resolution = backends.resolve(m.backendRef, "HTTPRoute", ns);
      if (!resolution.ok) noteUnresolved(compiled, resolution.reason, `RequestMirror: ${resolution.message}`);
      return { resolution, probability: m.probability };
    });
    const retry = compileRetry(spec.retry, where, problems);
    if (retry !== undefined) rule.retry = retry;
    checkPrefixRewrite(rule, where, problems);
    rule.broken = problems.length > 0;
    compiled.unsupported.push(...problems);
    compiled.rules.push(rule);
  });
  return compiled;
}

/** ReplacePrefixMatch replaces the matched prefix, so the CRD allows it only with exactly one PathPrefix match. */
function checkPrefixRewrite(rule: CompiledRule, where: string, problems: string[]): void {
  const usesPrefix = rule.filters.some(
    (f) =>
      (f.type === "URLRewrite" && f.urlRewrite.path?.type === "ReplacePrefixMatch") ||
      (f.type === "RequestRedirect" && f.requestRedirect.path?.type === "ReplacePrefixMatch"),
  );
  const [first, ...rest] = rule.matches;
  if (usesPrefix && (first?.path.type !== "PathPrefix" || rest.length > 0))
    problems.push(`${where}: ReplacePrefixMatch needs exactly one PathPrefix match`);
}

/** A rule without matches matches every request (PathPrefix "/"), as the spec defaults it. */
function compileMatches(specs: readonly RouteMatchSpec[], where: string, problems: string[]): RouteMatch[] {
  if (specs.length === 0) return [{ path: { type: "PathPrefix", value: "/" }, headers: [], queryParams: [] }];
  const out: RouteMatch[] = [];
  specs.forEach((m, i) => {
    const bad = (what: string, source: string) => {
      const problem = regexProblem(source);
      if (problem === undefined) return false;
      problems.push(`${where} match ${i}: ${what} is not a valid regular expression: ${source}: ${problem}`);
      return true;
    };
    if (m.path.type === "RegularExpression" && bad("path", m.path.value)) return;
    const headers = firstOfEachName(m.headers, (h) => h.name.toLowerCase()).map(
      (h): HeaderMatch => ({ type: h.type, name: h.name.toLowerCase(), value: h.value }),
    );
    const queryParams = firstOfEachName(m.queryParams, (q) => q.name).map(
      (q): QueryMatch => ({ type: q.type, name: q.name, value: q.value }),
    );
    if ([...headers, ...queryParams].some((v) => v.type === "RegularExpression" && bad(v.name, v.value)))
      return;
    out.push({
      path: { type: m.path.type, value: m.path.value },
      ...(m.method !== undefined && { method: m.method }),
      headers,
      queryParams,
    });
  });
  return out;
}

/** The spec: when several matches name the same header (or parameter), only the first counts. */
function firstOfEachName<T>(items: readonly T[], nameOf: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const name = nameOf(item);
    if (seen.has(name)) return false;
    seen.add(name);
    return true;
  });
}

function compileTimeouts(
  spec: HTTPRouteRuleSpec["timeouts"],
  where: string,
  problems: string[],
): CompiledRule["timeouts"] {
  const out: CompiledRule["timeouts"] = {};
  if (spec === undefined) return out;
  const parse = (field: "request" | "backendRequest") => {
    const value = spec[field];
    if (value === undefined) return undefined;
    const ms = parseDuration(value);
    if (ms === undefined) {
      problems.push(`${where}: timeouts.${field} "${value}" is not a duration (e.g. 10s, 500ms)`);
      return undefined;
    }
    const tooLong = timeoutProblem(value, ms);
    if (tooLong !== undefined) {
      problems.push(`${where}: timeouts.${field} ${tooLong}`);
      return undefined;
    }
    return ms;
  };
  const request = parse("request");
  const backendRequest = parse("backendRequest");
  if (request !== undefined) out.requestMs = request;
  if (backendRequest !== undefined) out.backendRequestMs = backendRequest;
  // 0 disables a timeout; otherwise one backend attempt cannot outlast the whole request.
  if (request && backendRequest && backendRequest > request)
    problems.push(`${where}: timeouts.backendRequest is longer than timeouts.request`);
  return out;
}

/**
 * Retries of a rule when `attempts` is not given. GEP-1731 leaves it to the implementation;
 * 2 is what Envoy Gateway's and Istio's retry policies default to, and meshgate's own cluster
 * retry default.
 */
export const DEFAULT_RULE_RETRY_ATTEMPTS = 2;

/** The most retries a rule may ask for (the Snapshot's bound): more would only multiply load. */
const MAX_RULE_RETRY_ATTEMPTS = 100;

/** HTTPRoute rule.retry as the Snapshot's: codes kept as listed, backoff in ms, attempts defaulted. */
function compileRetry(spec: HTTPRouteRuleSpec["retry"], where: string, problems: string[]): RouteRetry | undefined {
  if (spec === undefined) return undefined;
  const attempts = spec.attempts ?? DEFAULT_RULE_RETRY_ATTEMPTS;
  if (attempts > MAX_RULE_RETRY_ATTEMPTS) {
    problems.push(`${where}: retry.attempts ${attempts} is more than ${MAX_RULE_RETRY_ATTEMPTS}, the most meshgate retries a request`);
    return undefined;
  }
  const retry: RouteRetry = { codes: [...new Set(spec.codes)].sort((a, b) => a - b), attempts };
  if (spec.backoff !== undefined) {
    const ms = parseDuration(spec.backoff);
    if (ms === undefined) {
      problems.push(`${where}: retry.backoff "${spec.backoff}" is not a duration (e.g. 100ms, 1s)`);
      return undefined;
    }
    const tooLong = timeoutProblem(spec.backoff, ms);
    if (tooLong !== undefined) {
      problems.push(`${where}: retry.backoff ${tooLong}`);
      return undefined;
    }
    retry.backoffMs = ms;
  }
  return retry;
}
