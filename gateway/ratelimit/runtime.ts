// Rate limits at run time: an action's rules compiled once per Snapshot, and the limiters that
// count them. Limiters outlive Snapshots (keyed by bucket and limit), so re-applying the same
// configuration does not reset anyone's quota.
import type { RateLimitConfig } from "../snapshot.js";
import type { RateLimitMetrics } from "../telemetry/metrics.js";
import { quotaValue, tooManyRequestsHeaders } from "./headers.js";
import { type Decision, GlobalLimiter, type Limiter, LocalLimiter, RedisInFlight } from "./limiter.js";
import { type LeaseChannel, LocalShares } from "./local-shares.js";
import { createRedisClient, type RedisClient, type RedisTarget } from "./redis-client.js";
import { type CompiledRule, compileRule, matchRule, type RateLimit, type RequestFacts } from "./rules.js";

export interface ActionRateLimit {
  readonly policy: string;
  readonly rule: CompiledRule;
  /** Identifies the limiter: bucket, rule and everything that shapes the count. */
  readonly limiterKey: string;
}

function verdictOf(rule: CompiledRule, decision: Decision): RateLimitVerdict {
  if (!decision.allowed) return { allowed: false, headers: tooManyRequestsHeaders(decision, rule.windowSeconds) };
  return { allowed: true, quota: { policy: rule.quotaPolicy, value: quotaValue(decision) } };
}

/** One event loop's part of a limit counted per instance. */
export function shareOf(limit: RateLimit, eventLoops: number): RateLimit {
  if (eventLoops <= 1) return limit;
  return { requests: Math.max(1, Math.floor(limit.requests / eventLoops)), unit: limit.unit };
}

/** RateLimits.check's answer when a limiter must be waited for: the verdict comes by callback. */
export const PENDING: unique symbol = Symbol("rate limit decision pending");

/** The allowed rule closest to its limit so far: its quota is the one the response carries. */
interface Tightest {
  readonly rule: CompiledRule;
  readonly decision: Decision;
}

function tighter(tightest: Tightest | undefined, rule: CompiledRule, decision: Decision): Tightest {
  if (tightest === undefined) return { rule, decision };
  return decision.remaining / decision.limit < tightest.decision.remaining / tightest.decision.limit ? { rule, decision } : tightest;
}

export const NO_RATE_LIMITS: readonly ActionRateLimit[] = Object.freeze([]);

/** Throws with the rule's reason when a rule is invalid, so the Snapshot is refused. */
export function compileRateLimits(configs: readonly RateLimitConfig[]): readonly ActionRateLimit[] {
  if (configs.length === 0) return NO_RATE_LIMITS;
  return configs.map((c) => {
    const rule = compileRule(c.bucket, {
      id: c.id,
      selectors: c.selectors,
      limit: c.limit,
      type: c.type,
      ...(c.cost === undefined ? {} : { cost: c.cost }),
      ...(c.failClosed === undefined ? {} : { failClosed: c.failClosed }),
    });
    const limiterKey = [rule.type, rule.keyPrefix, rule.limit.requests, rule.limit.unit, rule.failClosed].join("|");
    return { policy: c.policy, rule, limiterKey };
  });
}

/** The quota an allowed answer carries: RateLimit-Policy and RateLimit values. */
export interface Quota {
  readonly policy: string;
  readonly value: string;
}

/** The answer of the rules that matched a request. */
export type RateLimitVerdict =
  /** The 429's headers: quota and Retry-After. */
  | { allowed: false; headers: Record<string, string> }
  /** The quota of the rule closest to its limit, for the response. */
  | { allowed: true; quota: Quota };

export interface RateLimitOptions {
  /** Where Global rules are counted; without one, they are counted in this process. */
  redis?: RedisTarget | undefined;
  /** Gateway instances sharing the Redis limits (the insurance limit is limit / instances). */
  instances?: number;
  /**
   * Event loops (worker threads) of this instance, each with its own RateLimits: each counts a
   * Local limit (without `localShares`), and its insurance share, as limit / eventLoops (at
   * least 1). Default 1.
   */
  eventLoops?: number;
  /**
   * The supervisor's LocalLedger, reached through `channel` (see local-shares.ts, lease-link.ts):
   * the event loops then count Local limits together, at the full limit; while the ledger does
   * not answer within `timeoutMs`, each counts limit / eventLoops. `now` is the clock (tests).
   */
  localShares?: { channel: LeaseChannel; timeoutMs?: number; now?: () => number };
  /** Called on Redis connection errors; they never throw. */
  onRedisError?: (error: Error) => void;
}

export class RateLimits {
  private readonly limiters = new Map<string, Limiter>();
  private readonly shares: LocalShares | undefined;
  private redis: RedisClient | undefined;
  /** One cap on commands in flight for the client, shared by all its limiters. */
  private readonly redisInFlight = new RedisInFlight();
  private closed = false;

  constructor(
    private readonly options: RateLimitOptions,
    private readonly metrics: RateLimitMetrics,
  ) {
    // Connect at start-up, so the first requests are counted in Redis rather than by insurance.
    this.client();
    const shares = options.localShares;
    if (shares !== undefined) this.shares = new LocalShares({ ...shares, eventLoops: options.eventLoops ?? 1 });
  }

  /**
   * Consumes from every rule that matches, in order; the first that denies answers the request.
   * Decides at once when every matching limiter can (a Local limit, a slot leased from Redis, a
   * used-up bucket)
   * and returns the verdict, undefined when no rule matched. Otherwise returns PENDING and calls
   * `done` later, never synchronously. Never fails: limiter failures are answered inside the
   * limiters.
   */
  check(
    limits: readonly ActionRateLimit[],
    facts: RequestFacts,
    done: (verdict: RateLimitVerdict | undefined) => void,
  ): RateLimitVerdict | undefined | typeof PENDING {
    return this.checkFrom(limits, 0, facts, undefined, done);
  }

  private checkFrom(
    limits: readonly ActionRateLimit[],
    from: number,
    facts: RequestFacts,
    tightest: Tightest | undefined,
    done: (verdict: RateLimitVerdict | undefined) => void,
  ): RateLimitVerdict | undefined | typeof PENDING {
    let tight = tightest;
    for (let i = from; i < limits.length; i++) {
      const limit = limits[i] as ActionRateLimit;
      const key = matchRule(limit.rule, facts);
      if (key === undefined) continue;
      const limiter = this.limiterFor(limit);
      const now = limiter.decideNow?.(key, limit.rule.cost);
      if (now !== undefined) {
        this.record(limit, now);
        if (!now.allowed) return verdictOf(limit.rule, now);
        tight = tighter(tight, limit.rule, now);
        continue;
      }
      const before = tight;
      limiter.decide(key, limit.rule.cost, (decision) => {
        this.record(limit, decision);
        if (!decision.allowed) {
          done(verdictOf(limit.rule, decision));
          return;
        }
        const rest = this.checkFrom(limits, i + 1, facts, tighter(before, limit.rule, decision), done);
        if (rest !== PENDING) done(rest);
      });
      return PENDING;
    }
    return tight === undefined ? undefined : verdictOf(tight.rule, tight.decision);
  }

  async close(): Promise<void> {
    const redis = this.redis;
    this.closed = true;
    this.redis = undefined;
    this.shares?.close();
    if (redis !== undefined) await redis.quit().catch(() => redis.disconnect());
  }

  private record(limit: ActionRateLimit, decision: Decision): void {
    this.metrics.requests.inc(limit.policy, limit.rule.id, decision.allowed ? "allowed" : "limited");
    if (decision.source === "insurance" || decision.source === "fail-closed") {
      this.metrics.fallback.inc(decision.source);
    }
  }

  private readonly evictedLocal = (): void => this.metrics.evicted.inc("local");
  private readonly evictedInsurance = (): void => this.metrics.evicted.inc("insurance");

  private limiterFor(limit: ActionRateLimit): Limiter {
    let limiter = this.limiters.get(limit.limiterKey);
    if (limiter !== undefined) return limiter;
    const rule = limit.rule;
    const redis = rule.type === "Global" ? this.client() : undefined;
    limiter =
      redis === undefined
        ? (this.shares?.limiter(limit.limiterKey, rule.limit, { onEvict: this.evictedInsurance }) ??
          new LocalLimiter(shareOf(rule.limit, this.options.eventLoops ?? 1), { onEvict: this.evictedLocal }))
        : new GlobalLimiter({
            limit: rule.limit,
            redis,
            instances: (this.options.instances ?? 1) * (this.options.eventLoops ?? 1),
            failClosed: rule.failClosed,
            ...(this.options.redis?.timeoutMs === undefined ? {} : { redisTimeoutMs: this.options.redis.timeoutMs }),
            keyPrefix: `meshgate-rl:${rule.limit.requests}:${rule.limit.unit}`,
            onRedisCall: this.metrics.redisCall,
            insurance: { onEvict: this.evictedInsurance },
            inFlight: this.redisInFlight,
          });
    this.limiters.set(limit.limiterKey, limiter);
    return limiter;
  }

  /** One client per thread, connected on first use, failing fast while Redis is away. */
  private client(): RedisClient | undefined {
    const target = this.options.redis;
    if (target === undefined || this.closed) return undefined;
    this.redis ??= createRedisClient(target, (error) => this.options.onRedisError?.(error));
    return this.redis;
  }
}
