// The I/O shell of rate limiting: counts consumed points per bucket key, in process memory
// (LocalLimiter) or shared through Redis (GlobalLimiter). A Redis failure never throws to the
// caller: it is answered by the insurance counters, or denied when the rule fails closed.
import { createRequire } from "node:module";
import type { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";

// Loaded with the first limiter: a gateway without rate limits does not pay for the library.
type Flexible = typeof import("rate-limiter-flexible");
const requireModule = createRequire(import.meta.url);
let flexible: Flexible | undefined;
function lib(): Flexible {
  flexible ??= requireModule("rate-limiter-flexible") as Flexible;
  return flexible;
}
import { type RedisClient, REDIS_TIMEOUT_MS } from "./redis-client.js";
import { type RateLimit, windowSeconds } from "./rules.js";
import { ExpiringKeys } from "./expiring-keys.js";
import { type WindowCount, WindowCounters } from "./window-counters.js";

export type DecisionSource = "redis" | "memory" | "insurance" | "fail-closed";

export interface Decision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Milliseconds until the current window resets. */
  resetMs: number;
  source: DecisionSource;
}

/**
 * How a Redis call ended: answered, not answered in time, refused while disconnected, failed, or
 * not made because the event loop already had as many calls in flight as it may.
 */
export type RedisCallResult = "ok" | "timeout" | "unavailable" | "error" | "overloaded";

/**
 * Told of every Redis call a GlobalLimiter makes (calls answered from memory are not calls), and
 * of every call it does not make because too many are in flight ("overloaded", 0 seconds).
 */
export type RedisCallObserver = (seconds: number, result: RedisCallResult) => void;

export type DecisionCallback = (decision: Decision) => void;

export interface Limiter {
  /**
   * The decision when it is known without waiting (and the points are then consumed), or
   * undefined: `decide` must be asked.
   */
  decideNow?(key: string, cost: number): Decision | undefined;
  /** The request path's form: `done` is called once, never synchronously, never with an error. */
  decide(key: string, cost: number, done: DecisionCallback): void;
  consume(key: string, cost: number): Promise<Decision>;
}

/** Bounds of the in-memory counters of a limiter (see WindowCounters). */
export interface MemoryCounting {
  /** Keys counted at most, per limiter (default MAX_COUNTED_KEYS). */
  maxKeys?: number;
  /** Told of every live window dropped to make room for a new key. */
  onEvict?: () => void;
}

/** Counts in this process's memory, and so always decides at once. */
export class LocalLimiter implements Limiter {
  private readonly counters: WindowCounters;

  constructor(private readonly limit: RateLimit, counting: MemoryCounting = {}) {
    this.counters = countersFor(limit.requests, limit.unit, counting);
  }

  decideNow(key: string, cost: number): Decision {
    return decisionOf(this.counters.consume(key, cost), this.limit.requests, "memory");
  }

  decide(key: string, cost: number, done: DecisionCallback): void {
    const decision = this.decideNow(key, cost);
    queueMicrotask(() => tell(done, decision));
  }

  consume(key: string, cost: number): Promise<Decision> {
    return Promise.resolve(this.decideNow(key, cost));
  }
}

function countersFor(points: number, unit: RateLimit["unit"], counting: MemoryCounting): WindowCounters {
  return new WindowCounters(points, windowSeconds(unit) * 1000, counting.maxKeys, counting.onEvict);
}

function decisionOf(count: WindowCount, limit: number, source: DecisionSource): Decision {
  return { allowed: count.allowed, limit, remaining: count.remaining, resetMs: count.resetMs, source };
}

export interface GlobalLimiterOptions {
  limit: RateLimit;
  /** An existing ioredis client; its owner connects, reconnects and closes it. */
  redis: RedisClient;
  /** How many gateway instances share the limit; the insurance limiter allows limit / instances. */
  instances: number;
  failClosed?: boolean;
  /** A Redis answer slower than this counts as a Redis failure (default REDIS_TIMEOUT_MS). */
  redisTimeoutMs?: number;
  keyPrefix?: string;
  onRedisCall?: RedisCallObserver;
  /** Bounds of the insurance counters. */
  insurance?: MemoryCounting;
  /**
   * The cap on Redis commands in flight, shared by every limiter of the client (default: a cap of
   * REDIS_IN_FLIGHT_MAX for this limiter alone).
   */
  inFlight?: RedisInFlight;
}

/** Redis commands one event loop may have in flight by default (see RedisInFlight). */
export const REDIS_IN_FLIGHT_MAX = 2048;

/**
 * Redis commands sent and not yet settled, for every limiter of one client (one event loop). A
 * command is in flight until Redis answers it or the client fails it (the connection closed),
 * not merely until the limiter stops waiting for it: that is what the client holds in memory.
 * A hung Redis therefore holds at most `max` commands; past that, limiters answer without
 * sending (insurance, or fail-closed denial), at once.
 */
export class RedisInFlight {
  private count = 0;

  constructor(readonly max: number = REDIS_IN_FLIGHT_MAX) {
    if (!Number.isSafeInteger(max) || max < 1) throw new Error("RedisInFlight: max must be a positive integer");
  }

  get size(): number {
    return this.count;
  }

  /** Counts one more command in flight; false, and nothing counted, when the cap is reached. */
  take(): boolean {
    if (this.count >= this.max) return false;
    this.count++;
    return true;
  }

  release(): void {
    if (this.count > 0) this.count--;
  }
}

/** Used-up keys remembered per limiter; past this, a used-up key is asked of Redis again. */
export const BLOCKED_KEYS_MAX = 100_000;

/**
 * Keys whose window is used up, with the time it ends: answered from memory until then, so an
 * attack on one key does not reach Redis. (rate-limiter-flexible's own in-memory block scans
 * every blocked key on each blocked request; with many Distinct keys that is an attack's lever.)
 * Bounded: an attacker inventing keys makes the map sweep, then stop growing, never grow without
 * end.
 */
export class BlockedKeys {
  private readonly until: ExpiringKeys<number>;

  constructor(max = BLOCKED_KEYS_MAX) {
    this.until = new ExpiringKeys<number>(max, (until, now) => until <= now);
  }

  msLeft(key: string, now: number): number {
    const until = this.until.get(key);
    if (until === undefined) return 0;
    if (until > now) return until - now;
    this.until.delete(key);
    return 0;
  }

  get size(): number {
    return this.until.size;
  }

  block(key: string, until: number, now: number): void {
    this.until.set(key, until, now);
  }
}

export class GlobalLimiter implements Limiter {
  private readonly redisLimiter: RateLimiterRedis;
  private readonly insurance: WindowCounters;
  private readonly blocked = new BlockedKeys();
  /** Keys whose last Redis call timed out and has not been answered or failed since. */
  private readonly overdue = new Set<string>();
  private readonly leases = new ExpiringKeys<Lease>(LEASED_KEYS_MAX, (lease, now) => lease.expiresAt <= now && !lease.refilling);
  private readonly instances: number;
  private readonly limit: number;
  private readonly failClosed: boolean;
  private readonly timeoutMs: number;
  private readonly windowMs: number;
  private readonly onRedisCall: RedisCallObserver | undefined;
  private readonly redis: RedisClient;
  private readonly inFlight: RedisInFlight;

  constructor(options: GlobalLimiterOptions) {
    if (!Number.isInteger(options.instances) || options.instances < 1) {
      throw new Error("GlobalLimiter: instances must be a positive integer");
    }
    const duration = windowSeconds(options.limit.unit);
    const keyPrefix = options.keyPrefix ?? "meshgate-rl";
    this.limit = options.limit.requests;
    this.instances = options.instances;
    this.failClosed = options.failClosed ?? false;
    this.timeoutMs = options.redisTimeoutMs ?? REDIS_TIMEOUT_MS;
    this.windowMs = duration * 1000;
    this.onRedisCall = options.onRedisCall;
    this.redis = options.redis;
    this.inFlight = options.inFlight ?? new RedisInFlight();
    this.redisLimiter = new (lib().RateLimiterRedis)({
      storeClient: options.redis,
      points: this.limit,
      duration,
      keyPrefix,
      // While ioredis is reconnecting, fail at once instead of queueing behind the outage.
      rejectIfRedisNotReady: true,
    });
    this.insurance = countersFor(Math.max(1, Math.floor(this.limit / options.instances)), options.limit.unit, options.insurance ?? {});
  }

  /**
   * Requests for one key that arrive in the same turn of the event loop are counted in Redis
   * with one increment of their summed cost, and share out the slots it gives in arrival order:
   * the count stays exact across instances (each increment is atomic) while Redis sees one call
   * per key per turn instead of one per request.
   *
   * A busy key far from its limit also reserves spare slots with that increment (a lease, see
   * `leaseAsk`): later requests take them without waiting for Redis, and the lease is topped up
   * in the background before it runs out. Every allowed request still holds a slot counted in
   * Redis, so instances together never allow more than the limit.
   */
  decide(key: string, cost: number, done: DecisionCallback): void {
    const decision = this.decideNow(key, cost);
    if (decision !== undefined) queueMicrotask(() => tell(done, decision));
    else this.enqueue(key, cost, done);
  }

  /** Answers from a leased slot, or denies a used-up key, without Redis; undefined otherwise. */
  decideNow(key: string, cost: number): Decision | undefined {
    const now = Date.now();
    const lease = this.leases.get(key);
    if (lease !== undefined && lease.slots >= cost && lease.expiresAt > now) {
      lease.slots -= cost;
      lease.taken += cost;
      if (!lease.refilling && lease.slots < lease.lowWater) this.enqueue(key, 0, undefined);
      return {
        allowed: true,
        limit: this.limit,
        remaining: Math.max(0, this.limit - lease.count + lease.slots),
        resetMs: lease.expiresAt - now,
        source: "redis",
      };
    }
    const blockedMs = this.blocked.msLeft(key, now);
    if (blockedMs > 0) return { allowed: false, limit: this.limit, remaining: 0, resetMs: blockedMs, source: "memory" };
    return undefined;
  }

  /** Joins this turn's batch for the key; `done` undefined only tops up the key's lease. */
  private enqueue(key: string, cost: number, done: DecisionCallback | undefined): void {
    let batch = this.batches.get(key);
    if (batch === undefined) {
      batch = { cost: 0, waiters: [] };
      this.batches.set(key, batch);
      if (this.batches.size === 1) setImmediate(this.flush);
    }
    if (done === undefined) return;
    batch.cost += cost;
    batch.waiters.push({ cost, resolve: done });
  }

  /** Slots a key's lease holds unused (reserved in Redis, not yet given to a request). */
  leasedSlots(key: string): number {
    const lease = this.leases.get(key);
    return lease === undefined || lease.expiresAt <= Date.now() ? 0 : lease.slots;
  }

  /**
   * How many spare slots to reserve with this increment. Only a key that already had a busy call
   * gets any (its state holds the last count Redis gave), so quiet keys, such as one client
   * address of a Distinct rule, cost no memory. The ask is twice the demand since the last call,
   * at most LEASE_MAX, and at most 1 / (LEASE_SHARE x instances) of what the window has left:
   * slots still leased when traffic stops are lost for the window, and this bounds the loss over
   * all instances to 1 / LEASE_SHARE of the limit. Small limits are therefore counted request by
   * request (a limit of 100 per minute never leases).
   */
  private leaseAsk(lease: Lease | undefined, cost: number): number {
    if (lease === undefined) return 0;
    const room = Math.floor((this.limit - lease.count) / (LEASE_SHARE * this.instances));
    const ask = Math.min(LEASE_MAX, room, 2 * (cost + lease.taken));
    return ask >= LEASE_MIN ? ask : 0;
  }

  /** Adds the slots left over from an increment to the key's lease, creating it for a busy key. */
  private grant(key: string, demand: number, spare: number, counted: { consumed: number; resetMs: number }): void {
    const now = Date.now();
    let lease = this.leases.get(key);
    if (lease === undefined) {
      if (demand < LEASE_MIN) return;
      lease = { slots: 0, taken: 0, lowWater: 0, count: 0, expiresAt: 0, refilling: false };
      // With LEASED_KEYS_MAX busy keys already leased, this one is counted request by request.
      if (!this.leases.set(key, lease, now)) return;
    }
    if (lease.expiresAt <= now) lease.slots = 0;
    lease.slots += spare;
    lease.lowWater = spare / 2;
    lease.count = counted.consumed;
    lease.expiresAt = now + counted.resetMs;
  }

  consume(key: string, cost: number): Promise<Decision> {
    return new Promise((resolve) => this.decide(key, cost, resolve));
  }

  // A new map each turn rather than clear(): a long-lived map's table ends up in the old
  // generation, and the requests its stale slots point at would then outlive every scavenge.
  private batches = new Map<string, Batch>();

  private readonly flush = (): void => {
    const batches = this.batches;
    this.batches = new Map();
    for (const [key, batch] of batches) this.send(key, batch);
  };

  private send(key: string, batch: Batch): void {
    const lease = this.leases.get(key);
    const demand = batch.cost + (lease?.taken ?? 0);
    const ask = this.leaseAsk(lease, batch.cost);
    const points = batch.cost + ask;
    // A top-up that no longer fits the window's room asks nothing: the key goes request by request.
    if (points === 0) return;
    // Redis has not answered this key's last call within the timeout (hung, or a Cluster master
    // gone): waiting again would only add the timeout to these requests. They are answered as in
    // an outage until that call settles, one way or the other.
    if (this.overdue.has(key)) {
      this.answerWithoutRedis(key, batch);
      return;
    }
    // As many commands as this event loop may leave with Redis are already there: one more would
    // only wait behind them (and, with Redis hung, hold memory until it answers).
    if (!this.inFlight.take()) {
      this.onRedisCall?.(0, "overloaded");
      this.answerWithoutRedis(key, batch);
      return;
    }
    if (lease !== undefined) {
      lease.refilling = true;
      lease.taken = 0;
    }
    const call: RedisCall = { key, points, demand, batch, lease, startedAt: 0, timer: undefined };
    const connecting = this.firstConnection();
    if (connecting === undefined) this.call(call);
    else void connecting.then(() => this.call(call));
  }

  private call(call: RedisCall): void {
    call.startedAt = performance.now();
    call.timer = setTimeout(this.timedOut, this.timeoutMs, call);
    this.increment(call.key, call.points).then(
      (counted) => this.answered(call, counted),
      () => this.failed(call),
    );
  }

  /**
   * Redis has not answered in time: the batch is answered as in an outage, and the call lets go of
   * it, so nothing of these requests stays referenced while the command waits in the client (until
   * Redis answers, or the connection is given up and the client fails its commands).
   */
  private readonly timedOut = (call: RedisCall): void => {
    const batch = call.batch;
    if (batch === undefined) return;
    call.batch = undefined;
    call.timer = undefined;
    if (call.lease !== undefined) call.lease.refilling = false;
    call.lease = undefined;
    this.overdue.add(call.key);
    this.onRedisCall?.((performance.now() - call.startedAt) / 1000, "timeout");
    this.answerWithoutRedis(call.key, batch);
  };

  private answered(call: RedisCall, counted: { consumed: number; resetMs: number }): void {
    this.inFlight.release();
    const batch = call.batch;
    if (batch === undefined) {
      // Answered after the timeout: the requests have their answers, the key may be asked again.
      this.overdue.delete(call.key);
      return;
    }
    clearTimeout(call.timer);
    call.batch = undefined;
    this.onRedisCall?.((performance.now() - call.startedAt) / 1000, "ok");
    const { key, points, lease } = call;
    if (lease !== undefined) lease.refilling = false;
    // The slots this increment took are (consumed - points, consumed]; a request passes when its
    // last slot is within the limit, and the slots after the waiters' that are within it are the
    // lease's. Once the window is used up the key is answered from memory.
    if (counted.consumed >= this.limit) {
      const now = Date.now();
      this.blocked.block(key, now + counted.resetMs, now);
    }
    let used = counted.consumed - points;
    for (const w of batch.waiters) {
      used += w.cost;
      const allowed = used <= this.limit;
      tell(w.resolve, {
        allowed,
        limit: this.limit,
        remaining: allowed ? this.limit - used : 0,
        resetMs: counted.resetMs,
        source: "redis",
      });
    }
    this.grant(key, call.demand, Math.max(0, Math.min(counted.consumed, this.limit) - used), counted);
  }

  /** Redis is down, refused the call or answered garbage: every request still gets a defined answer. */
  private failed(call: RedisCall): void {
    this.inFlight.release();
    const batch = call.batch;
    if (batch === undefined) {
      this.overdue.delete(call.key);
      return;
    }
    clearTimeout(call.timer);
    call.batch = undefined;
    this.onRedisCall?.((performance.now() - call.startedAt) / 1000, this.failureOf());
    if (call.lease !== undefined) call.lease.refilling = false;
    this.answerWithoutRedis(call.key, batch);
  }

  /** Insurance answers (or fail-closed denials) for a batch Redis cannot count. */
  private answerWithoutRedis(key: string, batch: Batch): void {
    for (const w of batch.waiters) {
      tell(
        w.resolve,
        this.failClosed
          ? { allowed: false, limit: this.limit, remaining: 0, resetMs: this.windowMs, source: "fail-closed" }
          : decisionOf(this.insurance.consume(key, w.cost), this.limit, "insurance"),
      );
    }
  }

  /** Adds `points` to the key's count in Redis: the count after, allowed or not. */
  private async increment(key: string, points: number): Promise<{ consumed: number; resetMs: number }> {
    let res: RateLimiterRes;
    try {
      res = await this.redisLimiter.consume(key, points);
    } catch (rejection) {
      if (!(rejection instanceof lib().RateLimiterRes)) throw rejection;
      res = rejection;
    }
    // A count below what was just added is no answer at all (a key changed behind our back).
    if (!Number.isSafeInteger(res.consumedPoints) || res.consumedPoints < points) {
      throw new Error(`Redis answered an impossible count for ${key}: ${res.consumedPoints}`);
    }
    return { consumed: res.consumedPoints, resetMs: Math.max(0, res.msBeforeNext) };
  }

  private everConnected = false;
  private connecting: Promise<void> | undefined;

  /**
   * Until the client has connected once, a call waits for the connection (within the timeout),
   * so the first requests after start are counted in Redis rather than by insurance. Later
   * outages fail fast.
   */
  private firstConnection(): Promise<void> | undefined {
    if (this.everConnected) return undefined;
    if (this.redis.status === "ready") {
      this.everConnected = true;
      return undefined;
    }
    this.connecting ??= new Promise<void>((resolve) => {
      const done = (): void => {
        this.everConnected = true;
        this.redis.off("ready", done);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(done, this.timeoutMs);
      this.redis.once("ready", done);
    });
    return this.connecting;
  }

  private failureOf(): RedisCallResult {
    return this.redis.status === "ready" ? "error" : "unavailable";
  }
}

/** Calls one waiter; whatever it throws stays with it, so the batch's other waiters are told. */
function tell(done: DecisionCallback, decision: Decision): void {
  try {
    done(decision);
  } catch {
    // The waiter's own failure; it has its decision.
  }
}

interface Batch {
  cost: number;
  waiters: { cost: number; resolve: DecisionCallback }[];
}

/** One increment on its way to Redis. */
interface RedisCall {
  readonly key: string;
  readonly points: number;
  /** The demand the key's lease follows (see `grant`). */
  readonly demand: number;
  /** The requests waiting for it; undefined once they have their answers. */
  batch: Batch | undefined;
  lease: Lease | undefined;
  startedAt: number;
  timer: NodeJS.Timeout | undefined;
}

/** A busy key's spare slots, reserved in Redis by earlier increments. */
interface Lease {
  /** Reserved and not yet given to a request. */
  slots: number;
  /** Given to requests since the last increment: the demand the next ask follows. */
  taken: number;
  /** Below this many slots the lease is topped up. */
  lowWater: number;
  /** The key's count in Redis after the last increment. */
  count: number;
  /** When the Redis window these slots belong to ends (ms since the epoch). */
  expiresAt: number;
  refilling: boolean;
}

/** The most slots one lease reserves at once. */
export const LEASE_MAX = 256;
/** A smaller ask is not worth a lease: the key is counted request by request. */
const LEASE_MIN = 4;
/** Leases over all instances hold at most 1 / LEASE_SHARE of what a window has left. */
const LEASE_SHARE = 100;
/** Keys with a lease per limiter; more busy keys than this are counted request by request. */
const LEASED_KEYS_MAX = 10_000;
