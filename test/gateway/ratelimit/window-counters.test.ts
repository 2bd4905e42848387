// In-memory fixed windows (Local limits, Global limits' insurance): counting per key, windows
// that end, and a bound on the keys held that a flood of made-up keys cannot push past.
import test from "ava";
import { LocalLimiter } from "../../../gateway/ratelimit/limiter.js";
import { MAX_COUNTED_KEYS, WindowCounters } from "../../../gateway/ratelimit/window-counters.js";

test("each key gets `points` per window from its first request; denied requests count; the window ends", (t) => {
  const counters = new WindowCounters(3, 1000);
  t.deepEqual(counters.consume("a", 1, 10_000), { allowed: true, remaining: 2, resetMs: 1000 });
  t.deepEqual(counters.consume("a", 2, 10_400), { allowed: true, remaining: 0, resetMs: 600 });
  t.deepEqual(counters.consume("a", 1, 10_500), { allowed: false, remaining: 0, resetMs: 500 });
  // Another key has its own window, from its own first request.
  t.deepEqual(counters.consume("b", 1, 10_500), { allowed: true, remaining: 2, resetMs: 1000 });
  // A cost larger than what is left is denied, and still counted.
  t.deepEqual(counters.consume("b", 3, 10_600), { allowed: false, remaining: 0, resetMs: 900 });
  t.like(counters.consume("b", 1, 10_700), { allowed: false });
  // "a"'s window ended at 11,000: a new one starts.
  t.deepEqual(counters.consume("a", 1, 11_000), { allowed: true, remaining: 2, resetMs: 1000 });
});

test("full of live windows, a new key drops the one that ends soonest, which starts afresh when it returns", (t) => {
  const evicted: number[] = [];
  const counters = new WindowCounters(2, 1000, 3, () => evicted.push(1));
  counters.consume("a", 2, 0);
  counters.consume("b", 2, 100);
  counters.consume("c", 2, 200);
  t.like(counters.consume("a", 1, 300), { allowed: false });
  t.is(counters.size, 3);
  counters.consume("d", 1, 300);
  t.is(counters.size, 3);
  t.is(evicted.length, 1);
  // "a" was dropped: it is counted from zero again (and that drops "b").
  t.deepEqual(counters.consume("a", 1, 400), { allowed: true, remaining: 1, resetMs: 1000 });
  t.is(evicted.length, 2);
  // "c" is still held and still used up.
  t.like(counters.consume("c", 1, 400), { allowed: false });
});

test("expired windows are dropped first and are not counted as evictions", (t) => {
  let evictions = 0;
  const counters = new WindowCounters(5, 1000, 3, () => evictions++);
  counters.consume("a", 1, 0);
  counters.consume("b", 1, 100);
  counters.consume("c", 1, 2000);
  // At 2,100, "a" and "b" have ended: both go, "c" stays.
  counters.consume("d", 1, 2100);
  t.is(evictions, 0);
  t.is(counters.size, 2);
  t.like(counters.consume("c", 1, 2100), { remaining: 3 });
});

test("a Local limit holds at most MAX_COUNTED_KEYS keys, however many distinct values a client makes up", (t) => {
  const evictions = { n: 0 };
  // A day window: without the bound every key would stay for a day.
  const limiter = new LocalLimiter({ requests: 10, unit: "Day" }, { onEvict: () => evictions.n++ });
  const flood = MAX_COUNTED_KEYS + 50_000;
  for (let i = 0; i < flood; i++) limiter.decideNow(`route|x-user=attacker-${i}`, 1);
  t.is(evictions.n, 50_000);
  // The most recent keys are still counted: one of them is used up after its limit.
  const recent = `route|x-user=attacker-${flood - 1}`;
  for (let i = 0; i < 9; i++) t.true(limiter.decideNow(recent, 1).allowed);
  t.like(limiter.decideNow(recent, 1), { allowed: false, remaining: 0, source: "memory" });
});

test("a Local limit decides at once, with the window in its answer", (t) => {
  const limiter = new LocalLimiter({ requests: 2, unit: "Minute" });
  const first = limiter.decideNow("k", 1);
  t.like(first, { allowed: true, limit: 2, remaining: 1, source: "memory" });
  t.true(first.resetMs > 59_000 && first.resetMs <= 60_000);
  t.like(limiter.decideNow("k", 1), { allowed: true, remaining: 0 });
  t.like(limiter.decideNow("k", 1), { allowed: false, remaining: 0 });
});

test("maxKeys must be a positive integer", (t) => {
  t.throws(() => new WindowCounters(1, 1000, 0), { message: /maxKeys must be a positive integer/ });
});

test("take lends whole steps within the limit, counts only what it took, and a read starts no window", (t) => {
  const counters = new WindowCounters(10, 1000);
  t.deepEqual(counters.take("k", 0, 1, 0), { taken: 0, count: 0, resetMs: 1000 });
  t.is(counters.size, 0);
  t.deepEqual(counters.take("k", 4, 3, 100), { taken: 3, count: 3, resetMs: 1000 });
  t.deepEqual(counters.take("k", 9, 3, 200), { taken: 6, count: 9, resetMs: 900 });
  // One point left: no whole step of 3 fits, a step of 1 does.
  t.deepEqual(counters.take("k", 3, 3, 300), { taken: 0, count: 9, resetMs: 800 });
  t.deepEqual(counters.take("k", 5, 1, 300), { taken: 1, count: 10, resetMs: 800 });
  // The next window starts afresh.
  t.deepEqual(counters.take("k", 20, 1, 1100), { taken: 10, count: 10, resetMs: 1000 });
});
