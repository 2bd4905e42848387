// The bounded, expiring per-key state of limiters (used-up keys, leases): it stops growing at its
// bound however many keys a client invents, and sweeps without scanning on every request.
import test from "ava";
import { ExpiringKeys } from "../../../gateway/ratelimit/expiring-keys.js";
import { BlockedKeys } from "../../../gateway/ratelimit/limiter.js";

const byTime = (max: number) => {
  let scans = 0;
  const keys = new ExpiringKeys<number>(max, (until, now) => {
    scans++;
    return until <= now;
  });
  return { keys, scans: () => scans };
};

test("full of live entries, a new key is not added; a known key is still updated", (t) => {
  const { keys } = byTime(3);
  for (const k of ["a", "b", "c"]) t.true(keys.set(k, 10_000, 0));
  t.false(keys.set("d", 10_000, 1));
  t.is(keys.get("d"), undefined);
  t.true(keys.set("a", 20_000, 2));
  t.is(keys.get("a"), 20_000);
  t.is(keys.size, 3);
});

test("at the bound, sweeps run at most once a second, then make room for new keys once entries expire", (t) => {
  const { keys, scans } = byTime(3);
  for (const k of ["a", "b", "c"]) keys.set(k, 5_000, 0);
  t.false(keys.set("d", 5_000, 10));
  const afterFirstSweep = scans();
  // A flood of new keys within the second costs no scan at all.
  for (let i = 0; i < 1000; i++) t.false(keys.set(`x${i}`, 5_000, 500));
  t.is(scans(), afterFirstSweep);
  // A second later the sweep runs again; nothing has expired yet.
  t.false(keys.set("e", 5_000, 1_010));
  t.is(scans(), afterFirstSweep + 3);
  // Once the entries have expired, the next sweep frees them.
  t.true(keys.set("f", 9_000, 5_000));
  t.is(keys.size, 1);
});

test("below the bound, expired entries are swept as the map doubles, so it holds about what is live", (t) => {
  const { keys } = byTime(100_000);
  let most = 0;
  // One key a millisecond, each live for one second.
  for (let i = 0; i < 20_000; i++) {
    keys.set(`k${i}`, i + 1_000, i);
    most = Math.max(most, keys.size);
  }
  t.true(most <= 2048, `most ${most}`);
});

test("BlockedKeys stops growing at its bound: a used-up key past it is simply asked of Redis again", (t) => {
  const blocked = new BlockedKeys(1000);
  for (let i = 0; i < 50_000; i++) blocked.block(`attacker-${i}`, 86_400_000, i / 100);
  t.is(blocked.size, 1000);
  t.true(blocked.msLeft("attacker-0", 1_000) > 0);
  t.is(blocked.msLeft("attacker-49999", 1_000), 0);
});

test("max must be a positive integer", (t) => {
  t.throws(() => new ExpiringKeys(0, () => true), { message: /max must be a positive integer/ });
});
