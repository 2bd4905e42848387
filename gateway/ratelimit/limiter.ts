// The I/O shell of rate limiting: counts consumed points per bucket key, in process memory
// (LocalLimiter) or shared through Redis (GlobalLimiter). A Redis failure never throws to the
// caller: it is answered by the insurance limiter, or denied when the rule fails closed.
import { createRequire } from "node:module";
import type { RateLimiterMemory, RateLimiterRedis } from "rate-limiter-flexible";

// Loaded with the first limiter: a gateway without rate limits does not pay for the library.
type Flexible = typeof import("rate-limiter-flexible");
const requireModule = createRequire(import.meta.url);
let flexible: Flexible | undefined;
function lib(): Flexible {
  flexible ??= requireModule("rate-limiter-flexible") as Flexible;
  return flexible;
}
import type { RedisClient } from "./redis-client.js";
import { type RateLimit, windowSeconds } from "./rules.js";

export type DecisionSource = "redis" | "memory" | "insurance" | "fail-closed";

export interface Decision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Milliseconds until the current window resets. */
  resetMs: number;
  source: DecisionSource;
}

/** How a Redis call ended: answered, not answered in time, refused while disconnected, failed. */
export type RedisCallResult = "ok" | "timeout" | "unavailable" | "error";

/** Told of every Redis call a GlobalLimiter makes (calls answered from memory are not calls). */
export type RedisCallObserver = (seconds: number, result: RedisCallResult) => void;

export interface Limiter {
  consume(key: string, cost: number): Promise<Decision>;
}

export class LocalLimiter implements Limiter {
  private readonly limiter: RateLimiterMemory;

  constructor(private readonly limit: RateLimit, keyPrefix = "meshgate-local") {
    this.limiter = new (lib().RateLimiterMemory)({ points: limit.requests, duration: windowSeconds(limit.unit), keyPrefix });
  }

  consume(key: string, cost: number): Promise<Decision> {
    return consumeFrom(this.limiter, key, cost, this.limit.requests, "memory");
  }
}

export interface GlobalLimiterOptions {
  limit: RateLimit;
  /** An existing ioredis client; its owner connects, reconnects and closes it. */
  redis: RedisClient;
  /** How many gateway instances share the limit; the insurance limiter allows limit / instances. */
  instances: number;
  failClosed?: boolean;
  /** A Redis answer slower than this counts as a Redis failure (default 250 ms). */
  redisTimeoutMs?: number;
  keyPrefix?: string;
  onRedisCall?: RedisCallObserver;
}

interface InMemoryBlockAware {
  getInMemoryBlockMsBeforeExpire(rlKey: string): number;
}

export class GlobalLimiter implements Limiter {
  private readonly redisLimiter: RateLimiterRedis;
  private readonly insurance: RateLimiterMemory;
  private readonly inMemoryBlock: InMemoryBlockAware;
  private readonly limit: number;
  private readonly failClosed: boolean;
  private readonly timeoutMs: number;
  private readonly windowMs: number;
  private readonly onRedisCall: RedisCallObserver | undefined;
  private readonly redis: RedisClient;

  constructor(options: GlobalLimiterOptions) {
    if (!Number.isInteger(options.instances) || options.instances < 1) {
      throw new Error("GlobalLimiter: instances must be a positive integer");
    }
    const duration = windowSeconds(options.limit.unit);
    const keyPrefix = options.keyPrefix ?? "meshgate-rl";
    this.limit = options.limit.requests;
    this.failClosed = options.failClosed ?? false;
    this.timeoutMs = options.redisTimeoutMs ?? 250;
    this.windowMs = duration * 1000;
    this.onRedisCall = options.onRedisCall;
    this.redis = options.redis;
    this.redisLimiter = new (lib().RateLimiterRedis)({
      storeClient: options.redis,
      points: this.limit,
      duration,
      keyPrefix,
      // Once a bucket is exhausted it cannot pass again this window: answer it from memory.
      inMemoryBlockOnConsumed: this.limit,
      // While ioredis is reconnecting, fail at once instead of queueing behind the outage.
      rejectIfRedisNotReady: true,
    });
    // rate-limiter-flexible 5 has this method but its typings omit it; checked here once.
    const inMemoryBlock = this.redisLimiter as unknown as Partial<InMemoryBlockAware>;
    if (typeof inMemoryBlock.getInMemoryBlockMsBeforeExpire !== "function") {
      throw new Error("GlobalLimiter: rate-limiter-flexible lacks getInMemoryBlockMsBeforeExpire");
    }
    this.inMemoryBlock = inMemoryBlock as InMemoryBlockAware;
    this.insurance = new (lib().RateLimiterMemory)({
      points: Math.max(1, Math.floor(this.limit / options.instances)),
      duration,
      keyPrefix: `${keyPrefix}-insurance`,
    });
  }

  async consume(key: string, cost: number): Promise<Decision> {
    const blockedMs = this.inMemoryBlock.getInMemoryBlockMsBeforeExpire(this.redisLimiter.getKey(key));
    if (blockedMs > 0) {
      return { allowed: false, limit: this.limit, remaining: 0, resetMs: blockedMs, source: "memory" };
    }
    const startedAt = performance.now();
    try {
      const decision = await withTimeout(consumeFrom(this.redisLimiter, key, cost, this.limit, "redis"), this.timeoutMs);
      this.onRedisCall?.((performance.now() - startedAt) / 1000, "ok");
      return decision;
    } catch (error) {
      // Redis is down, slow or answered garbage: the request still gets a defined answer.
      this.onRedisCall?.((performance.now() - startedAt) / 1000, this.failureOf(error));
      if (this.failClosed) {
        return { allowed: false, limit: this.limit, remaining: 0, resetMs: this.windowMs, source: "fail-closed" };
      }
      return consumeFrom(this.insurance, key, cost, this.limit, "insurance");
    }
  }

  private failureOf(error: unknown): RedisCallResult {
    if (error instanceof RedisTimeoutError) return "timeout";
    return this.redis.status === "ready" ? "error" : "unavailable";
  }
}

class RedisTimeoutError extends Error {}

/** Resolves with a decision for allowed and denied alike; rejects only on store errors. */
async function consumeFrom(
  limiter: RateLimiterMemory | RateLimiterRedis,
  key: string,
  cost: number,
  limit: number,
  source: DecisionSource,
): Promise<Decision> {
  try {
    const res = await limiter.consume(key, cost);
    return { allowed: true, limit, remaining: res.remainingPoints, resetMs: res.msBeforeNext, source };
  } catch (rejection) {
    if (rejection instanceof lib().RateLimiterRes) {
      return { allowed: false, limit, remaining: 0, resetMs: rejection.msBeforeNext, source };
    }
    throw rejection;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new RedisTimeoutError(`Redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
