// Local limits shared by several event loops through one LocalLedger. The "workers" here are
// RateLimits instances (or LocalShares) in this process, each with its own channel to the
// ledger; every call crosses real event-loop turns (setImmediate hops, as many as the generated
// case says) on the way there and back, so asks and grants of different workers interleave.
// A fake clock drives the windows of the ledger and the workers alike.
import test from "ava";
import fc from "fast-check";
import { answerLeaseRequest, LeaseLink, type LeaseRequest } from "../../../gateway/ratelimit/lease-link.js";
import {
  type LeaseAsk,
  type LeaseChannel,
  type LeaseGrant,
  LOCAL_SHARES_RETRY_MS,
  LocalLedger,
  LocalShares,
  SHARE_LEASE_SHARE,
  type SharedLocalLimiter,
} from "../../../gateway/ratelimit/local-shares.js";
import {
  type ActionRateLimit,
  compileRateLimits,
  PENDING,
  type RateLimitOptions,
  RateLimits,
  type RateLimitVerdict,
} from "../../../gateway/ratelimit/runtime.js";
import type { LimitUnit, RequestFacts } from "../../../gateway/ratelimit/rules.js";
import { WindowCounters } from "../../../gateway/ratelimit/window-counters.js";
import { DataPlaneMetrics } from "../../../gateway/telemetry/metrics.js";
import { fcSeed } from "../../support/fc-seed.js";
import { waitFor } from "../../support/net.js";

const SEED = fcSeed();

class Clock {
  t = 1_700_000_000_000;
  readonly now = (): number => this.t;
}

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function hops(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await immediate();
}

interface ChannelStats {
  calls: number;
  asks: number;
  inFlight: number;
}

/** A channel to the ledger crossing `pattern[i]` turns each way (cycled), as a port would. */
function hopChannel(ledger: LocalLedger, pattern: readonly number[] = [1]): { channel: LeaseChannel; stats: ChannelStats } {
  const stats: ChannelStats = { calls: 0, asks: 0, inFlight: 0 };
  let i = 0;
  const next = (): number => pattern[i++ % pattern.length] ?? 1;
  const channel: LeaseChannel = async (asks) => {
    stats.calls++;
    stats.asks += asks.length;
    stats.inFlight++;
    try {
      await hops(next());
      const grants = ledger.answer(asks);
      await hops(next());
      return grants;
    } finally {
      stats.inFlight--;
    }
  };
  return { channel, stats };
}

/** Waits until no call is on its way (lease top-ups included). */
async function quiet(stats: ChannelStats): Promise<void> {
  await immediate();
  while (stats.inFlight > 0) await immediate();
}

function rules(requests: number, unit: LimitUnit = "Minute", cost?: number): readonly ActionRateLimit[] {
  return compileRateLimits([
    {
      policy: "default/local",
      bucket: "default/local",
      id: "per-user",
      selectors: [{ kind: "Header", name: "x-user", type: "Distinct" }],
      limit: { requests, unit },
      type: "Local",
      ...(cost === undefined ? {} : { cost }),
    },
  ]);
}

function facts(user: string): RequestFacts {
  return { sourceIp: "10.0.0.1", method: "GET", path: "/", headers: { "x-user": user }, query: "" };
}

function check(rl: RateLimits, limits: readonly ActionRateLimit[], request: RequestFacts): Promise<RateLimitVerdict> {
  return new Promise((resolve, reject) => {
    const now = rl.check(limits, request, (later) => (later === undefined ? reject(new Error("no rule matched")) : resolve(later)));
    if (now === undefined) reject(new Error("no rule matched"));
    else if (now !== PENDING) resolve(now);
  });
}

function workers(count: number, options: RateLimitOptions): RateLimits[] {
  return Array.from({ length: count }, () => new RateLimits({ ...options, eventLoops: count }, new DataPlaneMetrics().rateLimit));
}

/** Every answer states the configured limit: RateLimit-Policy N;w=60 and RateLimit limit=N. */
function headersState(verdict: RateLimitVerdict, limit: number, windowSecs: number): string | undefined {
  const policy = `${limit};w=${windowSecs}`;
  const value = verdict.allowed ? verdict.quota.value : verdict.headers["ratelimit"];
  const statedPolicy = verdict.allowed ? verdict.quota.policy : verdict.headers["ratelimit-policy"];
  if (statedPolicy !== policy) return `policy ${statedPolicy} for ${policy}`;
  const m = /^limit=(\d+), remaining=(\d+), reset=(\d+)$/.exec(value ?? "");
  if (m === null || Number(m[1]) !== limit) return `RateLimit ${value} for limit ${limit}`;
  if (Number(m[2]) > limit - (verdict.allowed ? 1 : 0)) return `remaining ${m[2]} of ${limit}`;
  if (Number(m[3]) > windowSecs) return `reset ${m[3]} past the window`;
  if (!verdict.allowed && verdict.headers["retry-after"] !== m[3]) return `retry-after ${verdict.headers["retry-after"]}`;
  return undefined;
}

const schedule = fc.array(
  fc.record({
    worker: fc.nat(3),
    user: fc.nat(1),
    requests: fc.integer({ min: 1, max: 12 }),
    /** Wait for this step's answers before the next step; otherwise it overlaps the next ones. */
    settle: fc.boolean(),
    /** Then, with every answer in, the clock moves on (same window, its last ms, the next one). */
    advanceMs: fc.constantFrom(0, 0, 0, 0, 1, 25_000, 59_999, 60_000, 61_000),
  }),
  { minLength: 1, maxLength: 30 },
);

test("for N in 1..50 and 1-4 workers sharing a ledger, each window admits exactly min(demand, N), and headers state N", async (t) => {
  let runs = 0;
  let admittedTotal = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 50 }),
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6 }),
      schedule,
      async (limit, count, pattern, steps) => {
        runs++;
        const clock = new Clock();
        const ledger = new LocalLedger({ now: clock.now });
        const { channel, stats } = hopChannel(ledger, pattern);
        // A generous timeout: this property is about the ledger answering, not about failures.
        const loops = workers(count, { localShares: { channel, timeoutMs: 60_000, now: clock.now } });
        const limits = rules(limit);
        // The reference: one counter for the whole instance, as one event loop counts.
        const reference = new WindowCounters(limit, 60_000);
        const demand = new Map<string, number>();
        const admitted = new Map<string, number>();
        let outstanding: Promise<void>[] = [];
        const closeEpoch = async (): Promise<void> => {
          await Promise.all(outstanding);
          outstanding = [];
          await quiet(stats);
          for (const [user, wanted] of demand) {
            let expected = 0;
            for (let i = 0; i < wanted; i++) if (reference.consume(user, 1, clock.t).allowed) expected++;
            const got = admitted.get(user) ?? 0;
            if (got !== expected) throw new Error(`user ${user}: ${got} admitted at ${clock.t}, one counter admits ${expected} of ${wanted}`);
            admittedTotal += got;
          }
          demand.clear();
          admitted.clear();
        };
        for (const step of steps) {
          const rl = loops[step.worker % count] as RateLimits;
          const user = `u${step.user}`;
          demand.set(user, (demand.get(user) ?? 0) + step.requests);
          const answers = Array.from({ length: step.requests }, () =>
            check(rl, limits, facts(user)).then((verdict) => {
              const wrong = headersState(verdict, limit, 60);
              if (wrong !== undefined) throw new Error(wrong);
              if (verdict.allowed) admitted.set(user, (admitted.get(user) ?? 0) + 1);
            }),
          );
          outstanding.push(...answers);
          if (step.settle) await Promise.all(answers);
          if (step.advanceMs > 0) {
            await closeEpoch();
            clock.t += step.advanceMs;
          }
        }
        await closeEpoch();
        await Promise.all(loops.map((l) => l.close()));
      },
    ),
    { seed: SEED, numRuns: 150 },
  );
  t.log(`seed ${SEED}: ${runs} cases, ${admittedTotal} admissions, all equal to one counter's`);
  t.true(admittedTotal > 0);
});

test("large limits lease: a window never admits more than N, the ledger counts every admission or leased slot, and leases hold little", async (t) => {
  let worstLeased = 0;
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.integer({ min: 400, max: 5000 }), fc.integer({ min: 5000, max: 100_000 })),
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6 }),
      fc.array(
        fc.record({
          worker: fc.nat(3),
          requests: fc.integer({ min: 1, max: 400 }),
          settle: fc.boolean(),
          advanceMs: fc.constantFrom(0, 0, 0, 1, 400, 999, 1000),
        }),
        { minLength: 1, maxLength: 40 },
      ),
      async (limit, count, pattern, steps) => {
        runs++;
        const clock = new Clock();
        const ledger = new LocalLedger({ now: clock.now });
        const { channel, stats } = hopChannel(ledger, pattern);
        const shares = Array.from({ length: count }, () => new LocalShares({ channel, eventLoops: count, timeoutMs: 60_000, now: clock.now }));
        const limiters: SharedLocalLimiter[] = shares.map((s) => s.limiter("L", { requests: limit, unit: "Second" }));
        const countNow = (): number => {
          const ask: LeaseAsk = { limiter: "L", key: "k", limit, windowMs: 1000, want: 0, step: 1 };
          return (ledger.answer([ask])[0] as LeaseGrant).count;
        };
        let windowEnds = -Infinity;
        let admitted = 0;
        let denied = 0;
        let outstanding: Promise<void>[] = [];
        const closeEpoch = async (): Promise<void> => {
          await Promise.all(outstanding);
          outstanding = [];
          await quiet(stats);
          // The window ended with the clock's last move: it was checked before that move.
          if (clock.t >= windowEnds) return;
          const leased = limiters.reduce((sum, l) => sum + l.leasedSlots("k"), 0);
          const counted = countNow();
          worstLeased = Math.max(worstLeased, leased / limit);
          if (admitted > limit) throw new Error(`${admitted} admitted in a window of ${limit}`);
          if (counted !== admitted + leased) throw new Error(`ledger ${counted}, admitted ${admitted} + leased ${leased}`);
          if (denied > 0 && counted !== limit) throw new Error(`denials with ${counted} of ${limit} counted`);
          if (leased > limit / SHARE_LEASE_SHARE) throw new Error(`${leased} slots leased of ${limit}`);
        };
        for (const step of steps) {
          // Every request of a window goes to the ledger first at or after the window's start.
          if (clock.t >= windowEnds) {
            windowEnds = clock.t + 1000;
            admitted = 0;
            denied = 0;
          }
          const limiter = limiters[step.worker % count] as SharedLocalLimiter;
          const answers = Array.from({ length: step.requests }, () =>
            limiter.consume("k", 1).then((d) => {
              if (d.limit !== limit) throw new Error(`decision states limit ${d.limit}`);
              if (d.allowed) admitted++;
              else denied++;
            }),
          );
          outstanding.push(...answers);
          if (step.settle) await Promise.all(answers);
          if (step.advanceMs > 0) {
            await closeEpoch();
            clock.t += step.advanceMs;
          }
        }
        await closeEpoch();
        for (const s of shares) s.close();
      },
    ),
    { seed: SEED, numRuns: 60 },
  );
  t.true(runs > 0);
  t.log(`seed ${SEED}: ${runs} cases; most slots left leased at a quiet moment: ${(worstLeased * 100).toFixed(2)}% of the limit`);
});

/** A busy key: `count` workers each take `burst` requests per turn until `total` were asked. */
async function roundTrips(limit: number, unit: LimitUnit, count: number, total: number, burst: number): Promise<string> {
  const ledger = new LocalLedger();
  const { channel, stats } = hopChannel(ledger, [1]);
  const loops = workers(count, { localShares: { channel, timeoutMs: 60_000 } });
  const limits = rules(limit, unit);
  let asked = 0;
  let allowed = 0;
  while (asked < total) {
    const turn: Promise<RateLimitVerdict>[] = [];
    for (const rl of loops) for (let i = 0; i < burst && asked < total; i++, asked++) turn.push(check(rl, limits, facts("busy")));
    for (const v of await Promise.all(turn)) if (v.allowed) allowed++;
  }
  await quiet(stats);
  await Promise.all(loops.map((l) => l.close()));
  const policy = `${limit}/${unit}`;
  return `${policy}, ${count} workers, ${total} requests in bursts of ${burst} per worker: ${allowed} allowed, ${stats.calls} round trips (${stats.asks} asks), ${(stats.calls / total).toFixed(4)} round trips per request`;
}

test("figures: round trips per request for one busy key", async (t) => {
  const lines = [
    await roundTrips(10, "Minute", 2, 20_000, 16),
    await roundTrips(10, "Minute", 4, 20_000, 16),
    await roundTrips(1000, "Minute", 2, 20_000, 16),
    await roundTrips(100_000, "Second", 2, 20_000, 16),
    await roundTrips(100_000, "Second", 4, 20_000, 16),
    await roundTrips(100_000, "Second", 2, 20_000, 1),
  ];
  for (const line of lines) t.log(line);
  const trips = (line: string | undefined): number => Number(/, (\d+) round trips/.exec(line ?? "")?.[1]);
  // 10 a minute: every round trip admits at least one request or leaves its worker denying
  // from memory until the window ends.
  t.regex(lines[0] ?? "", /: 10 allowed/);
  t.true(trips(lines[0]) <= 10 + 2);
  t.true(trips(lines[1]) <= 10 + 4);
  // 100,000 a second: far from the limit, requests are answered from leases: at most one round
  // trip per worker per 4 requests (a lease's least), one request per turn included.
  t.regex(lines[3] ?? "", /: 20000 allowed/);
  for (const line of lines.slice(3)) t.true(trips(line) <= 20_000 / 4, line);
});

test("without a channel and with one event loop, a Local limit is counted as before", async (t) => {
  const [rl] = workers(1, {});
  const limits = rules(10);
  const verdicts: RateLimitVerdict[] = [];
  for (let i = 0; i < 15; i++) verdicts.push(await check(rl as RateLimits, limits, facts("a")));
  t.is(verdicts.filter((v) => v.allowed).length, 10);
  t.true(verdicts.every((v) => headersState(v, 10, 60) === undefined));
});

// Serial: timed against the channel timeout, so no other test of this file holds the event loop.
test.serial("a ledger that never answers: each worker answers after the timeout from its share (limit / workers), then at once", async (t) => {
  const never: LeaseChannel = () => new Promise<never>(() => undefined);
  const metrics = new DataPlaneMetrics();
  const loops = [0, 1].map(() => new RateLimits({ eventLoops: 2, localShares: { channel: never, timeoutMs: 100 } }, metrics.rateLimit));
  const limits = rules(10);
  const started = performance.now();
  const first = await Promise.all(loops.flatMap((rl) => Array.from({ length: 8 }, () => check(rl, limits, facts("a")))));
  const waited = performance.now() - started;
  t.log(`16 requests on 2 workers with a silent ledger answered after ${waited.toFixed(0)} ms`);
  t.true(waited >= 90, `${waited} ms`);
  t.true(waited < 5000, `${waited} ms`);
  // 5 a worker: never unlimited, and the headers still state the configured limit.
  t.is(first.filter((v) => v.allowed).length, 10);
  t.true(first.every((v) => headersState(v, 10, 60) === undefined));
  // Now answered without waiting for the ledger.
  const now = (loops[0] as RateLimits).check(limits, facts("b"), () => t.fail("answered later"));
  t.true(now !== PENDING && now !== undefined && now.allowed);
  const text = await metrics.registry.metrics();
  t.regex(text, /meshgate_ratelimit_fallback_total\{source="insurance"\} 17\n/);
  await Promise.all(loops.map((l) => l.close()));
});

// Serial: timed against the channel timeout, so no other test of this file holds the event loop.
test.serial("a failing channel falls back at once, and the ledger is used again once it answers", async (t) => {
  const ledger = new LocalLedger();
  let up = false;
  let calls = 0;
  const channel: LeaseChannel = async (asks) => {
    calls++;
    await immediate();
    if (!up) throw new Error("supervisor gone");
    return ledger.answer(asks);
  };
  // A timeout far beyond the test's bounds: the fallback must not wait for it.
  const loops = workers(2, { localShares: { channel, timeoutMs: 30_000 } });
  const limits = rules(10);
  const started = performance.now();
  const down = await Promise.all(Array.from({ length: 6 }, () => check(loops[0] as RateLimits, limits, facts("a"))));
  t.true(performance.now() - started < 10_000);
  t.is(down.filter((v) => v.allowed).length, 5);
  up = true;
  const callsBefore = calls;
  // The probe (every LOCAL_SHARES_RETRY_MS) finds the ledger again.
  await waitFor(() => calls > callsBefore, LOCAL_SHARES_RETRY_MS * 10);
  await waitFor(() => (loops[0] as RateLimits).check(limits, facts("fresh"), () => undefined) === PENDING, 5000);
  // Counted at the full limit across both workers again, for a new key.
  const back = await Promise.all(loops.flatMap((rl) => Array.from({ length: 8 }, () => check(rl, limits, facts("b")))));
  t.is(back.filter((v) => v.allowed).length, 10);
  await Promise.all(loops.map((l) => l.close()));
});

// Serial: timed against the channel timeout, so no other test of this file holds the event loop.
test.serial("a ledger that answers late: its grants become leases, so the window still admits N through the ledger", async (t) => {
  const ledger = new LocalLedger();
  let delayMs = 400;
  const channel: LeaseChannel = async (asks) => {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    return ledger.answer(asks);
  };
  const [rl] = workers(2, { localShares: { channel, timeoutMs: 100 } });
  const limits = rules(10);
  const early = await Promise.all(Array.from({ length: 4 }, () => check(rl as RateLimits, limits, facts("a"))));
  t.true(early.every((v) => v.allowed));
  delayMs = 0;
  // The late grant (4 slots, counted in the ledger) arrives and brings the ledger back.
  await new Promise((resolve) => setTimeout(resolve, 600));
  const later: RateLimitVerdict[] = [];
  for (let i = 0; i < 12; i++) later.push(await check(rl as RateLimits, limits, facts("a")));
  t.log(`after the late grant: ${later.filter((v) => v.allowed).length} of 12 allowed`);
  // 4 leased + 6 left in the ledger: 10, not 6 (slots lost) and not more.
  t.is(later.filter((v) => v.allowed).length, 10);
  t.true(later.every((v) => headersState(v, 10, 60) === undefined));
  await (rl as RateLimits).close();
});

test("costs: a request is never given part of its points, and N is reached exactly when costs divide it", async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 2, max: 4 }), async (cost, limit, count) => {
      const ledger = new LocalLedger();
      const { channel, stats } = hopChannel(ledger, [0, 2, 1]);
      const loops = workers(count, { localShares: { channel, timeoutMs: 60_000 } });
      const limits = rules(limit, "Minute", cost);
      const verdicts = await Promise.all(loops.flatMap((rl) => Array.from({ length: 30 }, () => check(rl, limits, facts("c")))));
      await quiet(stats);
      const points = verdicts.filter((v) => v.allowed).length * cost;
      if (points !== limit - (limit % cost)) throw new Error(`${points} points admitted, limit ${limit}, cost ${cost}`);
      await Promise.all(loops.map((l) => l.close()));
    }),
    { seed: SEED, numRuns: 60 },
  );
  t.pass();
});

test("the ledger refuses malformed asks and never throws on any input", (t) => {
  const ledger = new LocalLedger();
  fc.assert(
    fc.property(fc.array(fc.anything(), { maxLength: 5 }), (asks) => {
      const grants = ledger.answer(asks as LeaseAsk[]);
      if (grants.length !== asks.length) throw new Error("one grant per ask");
      for (const g of grants) if (g.refused !== true && !(g.granted === 0 && g.count === 0)) throw new Error(JSON.stringify(g));
    }),
    { seed: SEED, numRuns: 500 },
  );
  const bad = { limiter: "l", key: "k", limit: 10, windowMs: 60_000, want: 1, step: 1 };
  for (const change of [{ limit: 0 }, { limit: 1.5 }, { windowMs: 0 }, { windowMs: 86_400_001 }, { want: -1 }, { step: 0 }, { key: 7 }, { key: "k".repeat(9000) }]) {
    t.true((ledger.answer([{ ...bad, ...change } as LeaseAsk])[0] as LeaseGrant).refused, JSON.stringify(change));
  }
  t.like(ledger.answer([bad])[0], { granted: 1, count: 1 });
});

test("the ledger's memory is bounded: invented keys evict the window ending soonest, idle limiters are forgotten", (t) => {
  const clock = new Clock();
  let evicted = 0;
  const ledger = new LocalLedger({ maxKeys: 1000, onEvict: () => evicted++, now: clock.now });
  const ask = (limiter: string, key: string): LeaseAsk => ({ limiter, key, limit: 5, windowMs: 1000, want: 1, step: 1 });
  for (let i = 0; i < 50_000; i++) ledger.answer([ask("one", `invented-${i}`)]);
  t.is(evicted, 49_000);
  // A rule changed at every reload: limiters whose windows all ended are dropped.
  for (let i = 0; i < 10_000; i++) {
    ledger.answer([ask(`rule-${i}`, "k")]);
    clock.t += 10;
  }
  t.log(`limiters held after 10,000 rules, each idle past its window: ${ledger.size}`);
  t.true(ledger.size <= 512, `${ledger.size}`);
  // A key's window still counts exactly.
  const grants = ledger.answer([{ ...ask("rule-9999", "k"), want: 10 }]);
  t.like(grants[0], { granted: 4, count: 5 });
});

test("LeaseLink: replies find their calls, other messages are left alone, failures and silence end calls", async (t) => {
  const ledger = new LocalLedger();
  const sent: LeaseRequest[] = [];
  const link = new LeaseLink((request) => void sent.push(request), 50);
  const ask: LeaseAsk = { limiter: "l", key: "k", limit: 3, windowMs: 60_000, want: 2, step: 1 };
  const call = link.channel([ask]);
  t.false(link.receive({ type: "metrics", id: 1 }));
  t.false(link.receive(null));
  const reply = answerLeaseRequest(ledger, sent[0]);
  t.is(answerLeaseRequest(ledger, { type: "apply", id: 2 }), undefined);
  t.true(link.receive(reply));
  t.like((await call)[0], { granted: 2, count: 2 });
  // A call never answered is failed when a later call finds it stale; nothing stays behind.
  const silent = link.channel([ask]);
  await new Promise((resolve) => setTimeout(resolve, 80));
  void link.channel([]).catch(() => undefined);
  await t.throwsAsync(silent, { message: /never answered/ });
  t.is(link.waiting, 1);
  // A transport that throws (a closed IPC channel) fails the call at once.
  const broken = new LeaseLink(() => {
    throw new Error("channel closed");
  });
  await t.throwsAsync(broken.channel([ask]), { message: "channel closed" });
  t.is(broken.waiting, 0);
  link.close();
  t.is(link.waiting, 0);
  await t.throwsAsync(link.channel([ask]), { message: /closed/ });
});

test("without a Redis, a Global limit is counted per instance through the ledger too", async (t) => {
  const ledger = new LocalLedger();
  const { channel, stats } = hopChannel(ledger, [1, 0, 2]);
  const loops = workers(3, { localShares: { channel, timeoutMs: 60_000 } });
  const [global] = compileRateLimits([
    { policy: "default/g", bucket: "default/g", id: "all", selectors: [], limit: { requests: 7, unit: "Minute" }, type: "Global" },
  ]);
  const verdicts = await Promise.all(loops.flatMap((rl) => Array.from({ length: 5 }, () => check(rl, [global as ActionRateLimit], facts("x")))));
  await quiet(stats);
  t.is(verdicts.filter((v) => v.allowed).length, 7);
  t.true(verdicts.every((v) => headersState(v, 7, 60) === undefined));
  t.true(stats.calls > 0);
  await Promise.all(loops.map((l) => l.close()));
});
