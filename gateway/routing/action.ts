// What a matched rule does, compiled once: its filters, timeouts and a weighted backend choice.
import type { Mirror } from "../mirror/mirror.js";
import { type ActionRateLimit, compileRateLimits } from "../ratelimit/runtime.js";
import type { Backend, RouteAction } from "../snapshot.js";
import { type RetryPolicy, ruleRetryPolicy } from "../upstream/retry-budget.js";
import { compileFilters } from "./compile-filters.js";
import type { CompiledCors } from "./cors.js";
import { type CompiledFault, compileFault } from "./fault.js";
import type { CompiledHeaderModifier, CompiledRedirect, CompiledRewrite } from "./filters.js";

export interface CompiledBackend {
  /** null: the reference did not resolve, and the proxy answers 500 for this share of traffic. */
  cluster: string | null;
  weight: number;
  requestHeaders?: CompiledHeaderModifier;
  responseHeaders?: CompiledHeaderModifier;
  rewrite?: CompiledRewrite;
  /** A RequestRedirect on the backendRef: when this backend is chosen, the answer is the redirect. */
  redirect?: CompiledRedirect;
}

export interface CompiledAction {
  /** "namespace/name" of the HTTPRoute, for metrics and logs. */
  route: string;
  rule: string;
  /** When present, the answer is this redirect and no backend is involved. */
  redirect?: CompiledRedirect;
  rewrite?: CompiledRewrite;
  requestHeaders?: CompiledHeaderModifier;
  responseHeaders?: CompiledHeaderModifier;
  /** RequestMirror filters, ready to start; empty for most routes. */
  readonly mirrors: readonly Mirror[];
  /** RateLimitPolicy rules, compiled; empty (one length check) for most routes. */
  readonly rateLimits: readonly ActionRateLimit[];
  /** The CORS filter: preflights answered by the gateway, headers on actual responses. */
  readonly cors: CompiledCors | undefined;
  /** BackendTrafficPolicy faultInjection: a delay and/or abort before the request goes upstream. */
  readonly fault: CompiledFault | undefined;
  /** undefined: the cluster's default applies; 0: no timeout (the Gateway API's "0s"). */
  requestTimeoutMs: number | undefined;
  backendRequestTimeoutMs: number | undefined;
  /** The rule's own retry (GEP-1731); undefined: the cluster's retry policy decides. */
  retry: RetryPolicy | undefined;
  /**
   * Chooses a backend in proportion to its weight, `random` in [0, 1) (Math.random() when
   * omitted). undefined when there is no backend or every weight is 0.
   */
  pickBackend(random?: number): CompiledBackend | undefined;
}

class WeightedAction implements CompiledAction {
  readonly route: string;
  readonly rule: string;
  readonly redirect: CompiledRedirect | undefined;
  readonly rewrite: CompiledRewrite | undefined;
  readonly requestHeaders: CompiledHeaderModifier | undefined;
  readonly responseHeaders: CompiledHeaderModifier | undefined;
  readonly mirrors: readonly Mirror[];
  readonly rateLimits: readonly ActionRateLimit[];
  readonly cors: CompiledCors | undefined;
  readonly fault: CompiledFault | undefined;
  readonly requestTimeoutMs: number | undefined;
  readonly backendRequestTimeoutMs: number | undefined;
  readonly retry: RetryPolicy | undefined;
  private readonly backends: CompiledBackend[];
  /** Running sums of the weights, for one pass over a random point in [0, total). */
  private readonly cumulative: number[];
  private readonly total: number;
  /** The backend to return without drawing: the only one with weight, or none at all. */
  private readonly sole: CompiledBackend | undefined;
  /** Where a point that rounding pushes to the very end lands: the last backend with weight. */
  private readonly last: CompiledBackend | undefined;

  constructor(action: RouteAction, mirrors: MirrorFactory | undefined) {
    const filters = compileFilters(action.filters);
    this.route = action.route;
    this.rule = action.rule;
    this.redirect = filters.redirect;
    this.rewrite = filters.rewrite;
    this.requestHeaders = filters.requestHeaders;
    this.responseHeaders = filters.responseHeaders;
    this.mirrors = action.mirrors.length > 0 && mirrors !== undefined ? mirrors(action) : NO_MIRRORS;
    this.rateLimits = compileRateLimits(action.rateLimits);
    this.cors = filters.cors;
    this.fault = compileFault(action.fault);
    this.requestTimeoutMs = action.timeouts.requestMs;
    this.backendRequestTimeoutMs = action.timeouts.backendRequestMs;
    this.retry = action.retry === undefined ? undefined : ruleRetryPolicy(action.retry);
    this.backends = action.backends.map(compileBackend);
    this.cumulative = [];
    let total = 0;
    for (const b of this.backends) {
      total += b.weight;
      this.cumulative.push(total);
    }
    this.total = total;
    const weighted = this.backends.filter((b) => b.weight > 0);
    this.sole = weighted.length === 1 ? weighted[0] : undefined;
    this.last = weighted[weighted.length - 1];
  }

  pickBackend(random?: number): CompiledBackend | undefined {
    if (this.sole !== undefined || this.total === 0) return this.sole;
    const r = random ?? Math.random();
    // Out-of-range draws are clamped, so a weight-0 backend can never be chosen.
    const point = r > 0 ? r * this.total : 0;
    const cumulative = this.cumulative;
    for (let i = 0; i < cumulative.length; i++) {
      if (point < (cumulative[i] as number)) return this.backends[i];
    }
    return this.last;
  }
}

function compileBackend(backend: Backend): CompiledBackend {
  const filters = compileFilters(backend.filters);
  // Every backend gets the same shape, so the proxy's property reads stay monomorphic.
  return {
    cluster: backend.cluster,
    weight: backend.weight,
    requestHeaders: filters.requestHeaders,
    responseHeaders: filters.responseHeaders,
    rewrite: filters.rewrite,
    redirect: filters.redirect,
  };
}

/** Builds an action's Mirror instances; the data plane provides it, as it knows the clusters. */
export type MirrorFactory = (action: RouteAction) => readonly Mirror[];

const NO_MIRRORS: readonly Mirror[] = Object.freeze([]);

export function compileAction(action: RouteAction, mirrors?: MirrorFactory): CompiledAction {
  return new WeightedAction(action, mirrors);
}
