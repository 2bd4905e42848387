// Local limits counted once per instance, however many event loops (worker threads or worker
// processes) serve it. The supervisor (the process or thread that hosts the workers) holds the
// authoritative window counters in a LocalLedger; each worker's SharedLocalLimiter asks it for
// slots through an async LeaseChannel, the way GlobalLimiter asks Redis:
//
// - the requests for one key that arrive in the same turn of the event loop are asked for
//   together, and every limiter's asks of that turn travel in one channel call;
// - a busy key far from its limit also asks for spare slots (a lease), which later requests take
//   without a round trip; a lease never holds more than 1 / (LEASE_SHARE x workers) of what the
//   window has left, so slots still leased when traffic stops lose at most 1 / LEASE_SHARE of the
//   limit, and small limits (under LEASE_MIN x LEASE_SHARE x workers per window) are counted
//   request by request, with no loss at all;
// - a key the ledger has no room left for is denied from memory until its window ends.
//
// Every allowed request holds a slot counted by the ledger, and a worker uses a slot only while
// the ledger's window it was counted in lasts (its end is reckoned from when the ask was sent, so
// never late): an instance never allows more than the limit per window. When the channel fails or
// does not answer within the timeout (the supervisor is gone or stuck), each worker counts
// limit / workers on its own, as it did before the ledger existed: never unlimited, never waiting
// again until the supervisor answers a probe.
import { ExpiringKeys } from "./expiring-keys.js";
import { BlockedKeys, type Decision, type DecisionCallback, type Limiter, type MemoryCounting } from "./limiter.js";
import { type RateLimit, windowSeconds } from "./rules.js";
import { WindowCounters } from "./window-counters.js";

/** A worker's question to the ledger: key `key` of limiter `limiter`, `limit` per window: give me up to `want` points. */
export interface LeaseAsk {
  /** The limiter the key is counted in: one rule and its limit (RateLimits' limiter key). */
  limiter: string;
  key: string;
  /** Points per window. */
  limit: number;
  windowMs: number;
  /** Points wanted: for the requests waiting, plus a lease. 0 only reads the count. */
  want: number;
  /** Points are granted in whole multiples of this (the requests' cost): no request gets part of its points. */
  step: number;
}

export interface LeaseGrant {
  /** Points granted: a multiple of the step, at most what was wanted and what the window had left. */
  granted: number;
  /** The key's count in its window after this grant. */
  count: number;
  /** Milliseconds until the window ends. */
  resetMs: number;
  /** The ask was malformed: the worker answers from its own share. */
  refused?: true;
}

/** Carries one turn's asks to the ledger; answers the grants in the same order. */
export type LeaseChannel = (asks: readonly LeaseAsk[]) => Promise<readonly LeaseGrant[]>;

// ---------------------------------------------------------------------------------------------
// Supervisor side

export interface LedgerOptions {
  /** Keys counted at most per limiter (see WindowCounters; default MAX_COUNTED_KEYS). */
  maxKeys?: number;
  /** Told of every live window dropped to make room for a new key. */
  onEvict?: () => void;
  /** The clock, in ms since the epoch (tests). */
  now?: () => number;
}

interface LedgerLimiter {
  readonly counters: WindowCounters;
  readonly windowMs: number;
  /** When points were last taken: every window of this limiter has ended windowMs later. */
  lastTake: number;
}

/** Longest window (a day); a longer one is a malformed ask. */
const MAX_WINDOW_MS = 86_400_000;
/** Keys and limiter names are short (rules.ts hashes long values); longer ones are malformed. */
const MAX_NAME_LENGTH = 8192;
/** Limiters held before the first sweep of limiters whose windows have all ended. */
const LEDGER_SWEEP_MIN = 64;

const REFUSED: LeaseGrant = Object.freeze({ granted: 0, count: 0, resetMs: 0, refused: true as const });

/**
 * The instance's authoritative counts of Local limits. Memory is bounded as the workers' own
 * counters are: at most `maxKeys` keys per limiter (past that the window ending soonest is
 * dropped), and limiters whose windows have all ended (a rule removed or its limit changed) are
 * forgotten, so neither invented keys nor reloads grow it without bound.
 */
export class LocalLedger {
  private readonly limiters = new Map<string, LedgerLimiter>();
  private sweepAt = LEDGER_SWEEP_MIN;
  private readonly now: () => number;

  constructor(private readonly options: LedgerOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  /** One grant per ask, in order. Never throws: a malformed ask gets a refusal. */
  answer(asks: readonly LeaseAsk[]): LeaseGrant[] {
    const now = this.now();
    const grants = new Array<LeaseGrant>(asks.length);
    for (let i = 0; i < asks.length; i++) grants[i] = this.answerOne(asks[i], now);
    return grants;
  }

  /** Limiters held (for tests and status). */
  get size(): number {
    return this.limiters.size;
  }

  private answerOne(ask: LeaseAsk | undefined, now: number): LeaseGrant {
    if (!wellFormed(ask)) return REFUSED;
    const id = `${ask.limit}/${ask.windowMs}/${ask.limiter}`;
    let limiter = this.limiters.get(id);
    if (limiter === undefined) {
      this.sweep(now);
      const counters = new WindowCounters(ask.limit, ask.windowMs, this.options.maxKeys, this.options.onEvict);
      limiter = { counters, windowMs: ask.windowMs, lastTake: now };
      this.limiters.set(id, limiter);
    }
    const took = limiter.counters.take(ask.key, ask.want, ask.step, now);
    if (ask.want > 0) limiter.lastTake = now;
    return { granted: took.taken, count: took.count, resetMs: took.resetMs };
  }

  /** Drops idle limiters once their number has doubled since the last sweep: O(1) per limiter added. */
  private sweep(now: number): void {
    if (this.limiters.size < this.sweepAt) return;
    for (const [id, limiter] of this.limiters) {
      if (limiter.lastTake + limiter.windowMs <= now) this.limiters.delete(id);
    }
    this.sweepAt = Math.max(LEDGER_SWEEP_MIN, this.limiters.size * 2);
  }
}

function wellFormed(ask: LeaseAsk | undefined): ask is LeaseAsk {
  if (typeof ask !== "object" || ask === null) return false;
  const { limiter, key, limit, windowMs, want, step } = ask;
  return (
    typeof limiter === "string" &&
    limiter.length <= MAX_NAME_LENGTH &&
    typeof key === "string" &&
    key.length <= MAX_NAME_LENGTH &&
    Number.isSafeInteger(limit) &&
    limit >= 1 &&
    Number.isSafeInteger(windowMs) &&
    windowMs >= 1 &&
    windowMs <= MAX_WINDOW_MS &&
    Number.isSafeInteger(want) &&
    want >= 0 &&
    Number.isSafeInteger(step) &&
    step >= 1
  );
}

// ---------------------------------------------------------------------------------------------
// Worker side

/** How long a worker waits for the ledger before answering from its own share (default). */
export const LOCAL_SHARES_TIMEOUT_MS = 500;
/** While the ledger does not answer, it is probed this often; decisions meanwhile come from the share. */
export const LOCAL_SHARES_RETRY_MS = 1000;
/** The most points one lease asks for at once. */
export const SHARE_LEASE_MAX = 256;
/** A smaller ask is not worth a lease: the key is counted request by request. */
export const SHARE_LEASE_MIN = 4;
/** Leases over all workers hold at most 1 / SHARE_LEASE_SHARE of what a window has left. */
export const SHARE_LEASE_SHARE = 100;
/** Keys with a lease per limiter; more busy keys than this are counted request by request. */
const LEASED_KEYS_MAX = 10_000;

export interface LocalSharesOptions {
  channel: LeaseChannel;
  /** Event loops sharing the ledger: while it does not answer, each counts limit / eventLoops. */
  eventLoops: number;
  /** A channel answer slower than this is a failure (default LOCAL_SHARES_TIMEOUT_MS). */
  timeoutMs?: number;
  /** The clock, in ms since the epoch; the ledger's must be the same one (tests). */
  now?: () => number;
}

interface Waiter {
  cost: number;
  done: DecisionCallback;
}

interface Batch {
  /** The waiters' points. */
  cost: number;
  /** Their common cost, 1 when they differ, 0 while there are none (a lease top-up). */
  step: number;
  waiters: Waiter[];
}

/** One key's ask on its way to the ledger. */
export interface SentAsk {
  readonly limiter: SharedLocalLimiter;
  readonly key: string;
  readonly batch: Batch;
  readonly ask: LeaseAsk;
  /** The key's demand since its last ask: the waiters' points and what its lease gave out. */
  readonly demand: number;
  /** The points asked for the lease, beyond the waiters'. */
  readonly extra: number;
  /** When the ask left: the ledger's window ends no earlier than this plus the grant's resetMs. */
  readonly sentAt: number;
}

/** One event loop's side of the ledger: its limiters, the turn's batch, the channel's health. */
export class LocalShares {
  readonly now: () => number;
  readonly eventLoops: number;
  private readonly channel: LeaseChannel;
  private readonly timeoutMs: number;
  /** While true the channel has failed: decisions come from each limiter's own share, at once. */
  private failing = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Limiters with asks this turn. */
  private dirty: SharedLocalLimiter[] = [];

  constructor(options: LocalSharesOptions) {
    if (!Number.isInteger(options.eventLoops) || options.eventLoops < 1) {
      throw new Error("LocalShares: eventLoops must be a positive integer");
    }
    this.channel = options.channel;
    this.eventLoops = options.eventLoops;
    this.timeoutMs = options.timeoutMs ?? LOCAL_SHARES_TIMEOUT_MS;
    this.now = options.now ?? Date.now;
  }

  limiter(id: string, limit: RateLimit, counting: MemoryCounting = {}): SharedLocalLimiter {
    return new SharedLocalLimiter(this, id, limit, counting);
  }

  /** True while the ledger does not answer. */
  get down(): boolean {
    return this.failing;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
  }

  /** Called by a limiter when it has its first ask of the turn. */
  schedule(limiter: SharedLocalLimiter): void {
    this.dirty.push(limiter);
    if (this.dirty.length === 1) setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    const limiters = this.dirty;
    this.dirty = [];
    const now = this.now();
    const sent: SentAsk[] = [];
    for (const limiter of limiters) limiter.collect(sent, now);
    if (sent.length === 0) return;
    if (this.failing) {
      for (const s of sent) s.limiter.fail(s);
      return;
    }
    void this.send(sent);
  };

  private async send(sent: SentAsk[]): Promise<void> {
    const asks = sent.map((s) => s.ask);
    const call = callChannel(this.channel, asks);
    let grants: readonly LeaseGrant[];
    try {
      grants = checked(await withTimeout(call, this.timeoutMs), asks);
    } catch {
      this.fail();
      for (const s of sent) s.limiter.fail(s);
      // Answered after all (a slow supervisor): the points are counted in the ledger, so they
      // become the keys' leases instead of being lost, and the ledger is back.
      call.then(
        (late) => {
          let valid: readonly LeaseGrant[];
          try {
            valid = checked(late, asks);
          } catch {
            return;
          }
          for (let i = 0; i < sent.length; i++) (sent[i] as SentAsk).limiter.credit(sent[i] as SentAsk, valid[i] as LeaseGrant);
          this.recover();
        },
        () => undefined,
      );
      return;
    }
    for (let i = 0; i < sent.length; i++) (sent[i] as SentAsk).limiter.settle(sent[i] as SentAsk, grants[i] as LeaseGrant);
  }

  private fail(): void {
    this.failing = true;
    this.scheduleProbe();
  }

  private recover(): void {
    this.failing = false;
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
  }

  private scheduleProbe(): void {
    if (this.probeTimer !== undefined || this.closed) return;
    this.probeTimer = setTimeout(this.probe, LOCAL_SHARES_RETRY_MS);
    this.probeTimer.unref();
  }

  /** An empty ask: the ledger's answer says it is back. */
  private readonly probe = (): void => {
    this.probeTimer = undefined;
    withTimeout(callChannel(this.channel, []), this.timeoutMs).then(
      (grants) => (Array.isArray(grants) && grants.length === 0 ? this.recover() : this.scheduleProbe()),
      () => this.scheduleProbe(),
    );
  };
}

/**
 * A Local limit counted in the supervisor's ledger: answers from leased slots or a used-up key
 * at once, asks the ledger otherwise, and counts its own share (limit / eventLoops) while the
 * ledger does not answer. Decisions state the configured limit.
 */
export class SharedLocalLimiter implements Limiter {
  private readonly limit: number;
  private readonly windowMs: number;
  /** The share this event loop counts alone while the ledger does not answer. */
  private readonly share: WindowCounters;
  private readonly leases = new ExpiringKeys<Lease>(LEASED_KEYS_MAX, (lease, now) => lease.expiresAt <= now && lease.asked === 0);
  private readonly blocked = new BlockedKeys();
  // A new map each turn rather than clear(), as GlobalLimiter does (old-generation tables).
  private batches = new Map<string, Batch>();

  constructor(
    private readonly shares: LocalShares,
    private readonly id: string,
    limit: RateLimit,
    counting: MemoryCounting,
  ) {
    this.limit = limit.requests;
    this.windowMs = windowSeconds(limit.unit) * 1000;
    const share = Math.max(1, Math.floor(this.limit / shares.eventLoops));
    this.share = new WindowCounters(share, this.windowMs, counting.maxKeys, counting.onEvict);
  }

  decideNow(key: string, cost: number): Decision | undefined {
    const now = this.shares.now();
    const lease = this.leases.get(key);
    if (lease !== undefined && lease.slots >= cost && lease.expiresAt > now) {
      lease.slots -= cost;
      lease.taken += cost;
      if (lease.asked === 0 && lease.slots < lease.lowWater) this.enqueue(key, 0, undefined);
      return {
        allowed: true,
        limit: this.limit,
        remaining: Math.max(0, this.limit - lease.count + lease.slots),
        resetMs: lease.expiresAt - now,
        source: "memory",
      };
    }
    const blockedMs = this.blocked.msLeft(key, now);
    if (blockedMs > 0) return { allowed: false, limit: this.limit, remaining: 0, resetMs: blockedMs, source: "memory" };
    if (this.shares.down) return this.fromShare(key, cost, now);
    return undefined;
  }

  decide(key: string, cost: number, done: DecisionCallback): void {
    const decision = this.decideNow(key, cost);
    if (decision !== undefined) queueMicrotask(() => tell(done, decision));
    else this.enqueue(key, cost, done);
  }

  consume(key: string, cost: number): Promise<Decision> {
    return new Promise((resolve) => this.decide(key, cost, resolve));
  }

  /** Slots a key's lease holds unused (counted in the ledger, not yet given to a request). */
  leasedSlots(key: string): number {
    const lease = this.leases.get(key);
    return lease === undefined || lease.expiresAt <= this.shares.now() ? 0 : lease.slots;
  }

  /** Joins this turn's batch for the key; `done` undefined only tops up the key's lease. */
  private enqueue(key: string, cost: number, done: DecisionCallback | undefined): void {
    let batch = this.batches.get(key);
    if (batch === undefined) {
      batch = { cost: 0, step: 0, waiters: [] };
      this.batches.set(key, batch);
      if (this.batches.size === 1) this.shares.schedule(this);
    }
    if (done === undefined) return;
    batch.cost += cost;
    batch.step = batch.step === 0 || batch.step === cost ? cost : 1;
    batch.waiters.push({ cost, done });
  }

  /** Turns this turn's batches into asks. */
  collect(sent: SentAsk[], now: number): void {
    const batches = this.batches;
    this.batches = new Map();
    for (const [key, batch] of batches) {
      let lease = this.leases.get(key);
      const step = batch.step > 0 ? batch.step : (lease?.step ?? 1);
      let extra = this.leaseAsk(lease, batch.cost, step, now);
      if (extra > 0 && lease === undefined) {
        lease = { slots: 0, taken: 0, lowWater: 0, count: 0, expiresAt: 0, asked: 0, step };
        // With LEASED_KEYS_MAX keys already leased, this one is counted request by request.
        if (!this.leases.set(key, lease, now)) {
          lease = undefined;
          extra = 0;
        }
      }
      const want = batch.cost + extra;
      // A top-up the window's room no longer allows: the key goes request by request.
      if (want === 0) continue;
      const demand = batch.cost + (lease?.taken ?? 0);
      if (lease !== undefined) {
        lease.asked += extra;
        lease.taken = 0;
        lease.step = step;
      }
      const ask: LeaseAsk = { limiter: this.id, key, limit: this.limit, windowMs: this.windowMs, want, step };
      sent.push({ limiter: this, key, batch, ask, demand, extra, sentAt: now });
    }
  }

  /**
   * How many spare points to ask for with the waiters': twice the demand since the last ask, at
   * least SHARE_LEASE_MIN, at most SHARE_LEASE_MAX, and such that the lease (slots held and
   * asked for) stays within 1 / (SHARE_LEASE_SHARE x eventLoops) of what the window has left by
   * this event loop's last count (of the whole limit for a key without a lease, or whose lease's
   * window is over), in whole steps. That count is never above the ledger's, so all leases of
   * all event loops hold at most 1 / SHARE_LEASE_SHARE of the limit. A key is leased from its
   * first ask, so one that gets one request per turn does not pay a round trip for each; limits
   * too small for a lease of SHARE_LEASE_MIN are counted request by request.
   */
  private leaseAsk(lease: Lease | undefined, cost: number, step: number, now: number): number {
    const live = lease !== undefined && lease.expiresAt > now;
    const count = live ? lease.count : 0;
    const held = (live ? lease.slots : 0) + (lease?.asked ?? 0);
    const room = Math.floor((this.limit - count) / (SHARE_LEASE_SHARE * this.shares.eventLoops)) - held;
    let ask = Math.min(SHARE_LEASE_MAX, room, Math.max(SHARE_LEASE_MIN, 2 * (cost + (lease?.taken ?? 0))));
    ask -= ask % step;
    return ask >= SHARE_LEASE_MIN ? ask : 0;
  }

  /** The ledger's answer: waiters take the granted points in arrival order, the rest is leased. */
  settle(s: SentAsk, grant: LeaseGrant): void {
    this.answered(s);
    if (grant.refused === true) {
      this.fail(s);
      return;
    }
    const now = this.shares.now();
    const endsAt = s.sentAt + grant.resetMs;
    let used = grant.count - grant.granted;
    let left = grant.granted;
    for (const w of s.batch.waiters) {
      if (w.cost <= left) {
        left -= w.cost;
        used += w.cost;
        tell(w.done, { allowed: true, limit: this.limit, remaining: this.limit - used, resetMs: grant.resetMs, source: "memory" });
      } else {
        tell(w.done, { allowed: false, limit: this.limit, remaining: 0, resetMs: grant.resetMs, source: "memory" });
      }
    }
    // Less than asked: the window has no room for another step; deny from memory until it ends.
    if (grant.granted < s.ask.want) this.blocked.block(s.key, endsAt, now);
    this.lend(s.key, s.demand, left, grant.count, endsAt, now);
  }

  /** The ask's lease points are no longer on their way. */
  private answered(s: SentAsk): void {
    const lease = this.leases.get(s.key);
    if (lease !== undefined) lease.asked = Math.max(0, lease.asked - s.extra);
  }

  /** A grant that came after its waiters were answered from the share: all of it is leased. */
  credit(s: SentAsk, grant: LeaseGrant): void {
    if (grant.refused === true || grant.granted === 0) return;
    this.lend(s.key, 0, grant.granted, grant.count, s.sentAt + grant.resetMs, this.shares.now());
  }

  /** The ledger could not be asked: the waiters are answered from this event loop's share. */
  fail(s: SentAsk): void {
    this.answered(s);
    const now = this.shares.now();
    for (const w of s.batch.waiters) tell(w.done, this.fromShare(s.key, w.cost, now));
  }

  private fromShare(key: string, cost: number, now: number): Decision {
    const count = this.share.consume(key, cost, now);
    return { allowed: count.allowed, limit: this.limit, remaining: count.remaining, resetMs: count.resetMs, source: "insurance" };
  }

  /** Adds spare points to the key's lease, creating it for a busy key. */
  private lend(key: string, demand: number, spare: number, count: number, endsAt: number, now: number): void {
    let lease = this.leases.get(key);
    if (lease === undefined) {
      if (demand < SHARE_LEASE_MIN && spare === 0) return;
      lease = { slots: 0, taken: 0, lowWater: 0, count: 0, expiresAt: 0, asked: 0, step: 1 };
      // With LEASED_KEYS_MAX busy keys already leased, this one is counted request by request.
      if (!this.leases.set(key, lease, now)) return;
    }
    // Slots of a window that has ended are void. A grant's window end is reckoned from when its
    // ask left, so it is never later than the ledger's: slots are never used past their window.
    if (lease.expiresAt <= now) lease.slots = 0;
    lease.slots += spare;
    lease.lowWater = spare / 2;
    lease.count = count;
    lease.expiresAt = endsAt;
  }
}

/** A busy key's spare points, counted in the ledger by earlier grants. */
interface Lease {
  /** Counted and not yet given to a request. */
  slots: number;
  /** Given to requests since the last ask: the demand the next ask follows. */
  taken: number;
  /** Below this many slots the lease is topped up. */
  lowWater: number;
  /** The key's count in the ledger after the last grant. */
  count: number;
  /** When the ledger's window these slots belong to ends, at the latest (ms since the epoch). */
  expiresAt: number;
  /** Points asked for this lease and not yet answered: while any are, no top-up is asked. */
  asked: number;
  /** The cost of the requests that took from it: top-ups ask in whole steps of it. */
  step: number;
}

/** Calls one waiter; whatever it throws stays with it, so the batch's other waiters are told. */
function tell(done: DecisionCallback, decision: Decision): void {
  try {
    done(decision);
  } catch {
    // The waiter's own failure; it has its decision.
  }
}

/** The channel's answer as a promise, a synchronous throw included. */
function callChannel(channel: LeaseChannel, asks: readonly LeaseAsk[]): Promise<readonly LeaseGrant[]> {
  try {
    return Promise.resolve(channel(asks));
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** The grants, when they answer the asks; throws otherwise (a broken channel is a failed one). */
function checked(grants: unknown, asks: readonly LeaseAsk[]): readonly LeaseGrant[] {
  if (!Array.isArray(grants) || grants.length !== asks.length) throw new Error("ledger answered the wrong number of grants");
  for (let i = 0; i < asks.length; i++) {
    const g = grants[i] as LeaseGrant | undefined;
    const ask = asks[i] as LeaseAsk;
    if (typeof g !== "object" || g === null) throw new Error("ledger answered no grant");
    if (g.refused === true) continue;
    if (
      !Number.isSafeInteger(g.granted) ||
      g.granted < 0 ||
      g.granted > ask.want ||
      g.granted % ask.step !== 0 ||
      !Number.isSafeInteger(g.count) ||
      g.count < g.granted ||
      typeof g.resetMs !== "number" ||
      !(g.resetMs >= 0 && g.resetMs <= ask.windowMs)
    ) {
      throw new Error("ledger answered an impossible grant");
    }
  }
  return grants as readonly LeaseGrant[];
}

class LeaseTimeoutError extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new LeaseTimeoutError(`the ledger did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
