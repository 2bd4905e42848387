// Smooth weighted round robin: nginx's sequence, exact shares, and how ejection reshapes it.
import test from "ava";
import { createBalancer, SmoothRoundRobin } from "../../../gateway/upstream/balancer.js";
import { smoothSchedule } from "../../../gateway/upstream/lb/round-robin.js";
import { seededRandom } from "../../support/seeded-random.js";
import { ctx, endpoints, letter, tally } from "../../support/upstream-fixtures.js";

const sequence = (rr: SmoothRoundRobin, n: number, now = 0) =>
  Array.from({ length: n }, () => letter(rr.pick(ctx(), now))).join(" ");

test("weights 5,1,1 give nginx's documented a a b a c a a, period after period", (t) => {
  const rr = new SmoothRoundRobin(endpoints([5, 1, 1]));
  t.is(sequence(rr, 14), "a a b a c a a a a b a c a a");
});

test("a start offset rotates the same sequence", (t) => {
  const rr = new SmoothRoundRobin(endpoints([5, 1, 1]), 2);
  t.is(sequence(rr, 7), "b a c a a a a");
});

test("createBalancer starts at a random point but keeps the shares exact over whole periods", (t) => {
  const first = new Set<string>();
  for (let seed = 1; seed <= 20; seed++) {
    const lb = createBalancer({ type: "RoundRobin" }, endpoints([1, 1, 1, 1]), seededRandom(seed));
    first.add(letter(lb.pick(ctx(), 0)));
    t.deepEqual(
      tally(400, () => lb.pick(ctx(), 0)),
      { a: 100, b: 100, c: 100, d: 100 },
    );
  }
  t.true(first.size > 1, "every replica would hit the same endpoint first");
});

test("shares follow the weights exactly over whole periods", (t) => {
  const rr = new SmoothRoundRobin(endpoints([3, 2, 1, 4]));
  t.deepEqual(
    tally(10_000, () => rr.pick(ctx(), 0)),
    { a: 3000, b: 2000, c: 1000, d: 4000 },
  );
});

test("the schedule divides out common factors and is plain order for equal weights", (t) => {
  t.deepEqual([...smoothSchedule([3, 3, 3])], [0, 1, 2]);
  t.deepEqual([...smoothSchedule([10, 2, 2])], [...smoothSchedule([5, 1, 1])]);
  t.deepEqual([...smoothSchedule([5, 1, 1])], [0, 0, 1, 0, 2, 0, 0]);
});

test("huge weights are scaled to a bounded schedule that keeps the ratio close", (t) => {
  const rr = new SmoothRoundRobin(endpoints([1_000_000, 3_000_001]));
  const counts = tally(100_000, () => rr.pick(ctx(), 0));
  t.true(Math.abs((counts["b"] ?? 0) / 100_000 - 0.75) < 0.001, JSON.stringify(counts));
});

test("an ejected endpoint is skipped and the others keep their relative shares", (t) => {
  const list = endpoints([5, 1, 1]);
  const rr = new SmoothRoundRobin(list);
  list[0]!.ejectedUntil = 1000;
  t.is(sequence(rr, 6, 500), "b c b c b c");
});

test("an endpoint is picked again once its ejection runs out", (t) => {
  const list = endpoints([1, 1]);
  const rr = new SmoothRoundRobin(list);
  t.is(sequence(rr, 2, 0), "a b");
  list[0]!.ejectedUntil = 1000;
  t.is(sequence(rr, 3, 999), "b b b");
  t.deepEqual(
    tally(10, () => rr.pick(ctx(), 1000)),
    { a: 5, b: 5 },
  );
});

test("an endpoint ejected between picks is noticed on the next pick", (t) => {
  const list = endpoints([1, 1, 1]);
  const rr = new SmoothRoundRobin(list);
  t.is(sequence(rr, 3, 0), "a b c");
  list[1]!.ejectedUntil = 5000;
  t.is(sequence(rr, 4, 10), "a c a c");
});
