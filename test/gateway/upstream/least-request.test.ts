// Least request: power of two choices on requests in flight per unit of weight.
import test from "ava";
import { LeastRequest } from "../../../gateway/upstream/balancer.js";
import { seededRandom } from "../../support/seeded-random.js";
import { ctx, endpoints, tally } from "../../support/upstream-fixtures.js";

test("with two endpoints the less loaded one is always picked", (t) => {
  const list = endpoints([1, 1]);
  const lb = new LeastRequest(list, 2, seededRandom(1));
  list[0]!.active = 5;
  list[1]!.active = 4;
  t.deepEqual(tally(100, () => lb.pick(ctx(), 0)), { b: 100 });
  list[1]!.active = 6;
  t.deepEqual(tally(100, () => lb.pick(ctx(), 0)), { a: 100 });
});

test("load is compared per unit of weight", (t) => {
  const list = endpoints([4, 1]);
  const lb = new LeastRequest(list, 2, seededRandom(2));
  // 7 in flight on weight 4 is lighter than 2 on weight 1.
  list[0]!.active = 7;
  list[1]!.active = 2;
  t.deepEqual(tally(50, () => lb.pick(ctx(), 0)), { a: 50 });
  list[0]!.active = 9;
  t.deepEqual(tally(50, () => lb.pick(ctx(), 0)), { b: 50 });
});

test("idle endpoints are preferred: with half the cluster busy they get about 3/4 of picks", (t) => {
  const list = endpoints(Array.from({ length: 10 }, () => 1));
  for (const ep of list.slice(0, 5)) ep.active = 10;
  const lb = new LeastRequest(list, 2, seededRandom(3));
  const counts = tally(20_000, () => lb.pick(ctx(), 0));
  const idle = ["f", "g", "h", "i", "j"].reduce((sum, k) => sum + (counts[k] ?? 0), 0);
  // A busy endpoint wins only when both draws are busy: 1/4 of the time.
  t.true(Math.abs(idle / 20_000 - 0.75) < 0.02, `idle share ${idle / 20_000}`);
});

test("more choices concentrate picks on the least loaded endpoint", (t) => {
  const list = endpoints(Array.from({ length: 8 }, () => 1));
  list.forEach((ep, i) => (ep.active = 8 - i));
  const lb2 = new LeastRequest(list, 2, seededRandom(4));
  const two = tally(10_000, () => lb2.pick(ctx(), 0))["h"] ?? 0;
  const lb4 = new LeastRequest(list, 4, seededRandom(4));
  const four = tally(10_000, () => lb4.pick(ctx(), 0))["h"] ?? 0;
  t.true(four > two, `choices 4 gave ${four}, choices 2 gave ${two}`);
});

test("an idle cluster spreads by weight rather than always picking the first endpoint", (t) => {
  const lb = new LeastRequest(endpoints([3, 1]), 2, seededRandom(5));
  const counts = tally(20_000, () => lb.pick(ctx(), 0));
  t.true(Math.abs((counts["a"] ?? 0) / 20_000 - 0.75) < 0.02, JSON.stringify(counts));
});

test("picks follow in-flight counts as the proxy updates them", (t) => {
  const list = endpoints([1, 1, 1, 1]);
  const lb = new LeastRequest(list, 4, seededRandom(6));
  // Every request stays in flight: the four endpoints fill up evenly.
  for (let i = 0; i < 400; i++) lb.pick(ctx(), 0)!.active++;
  t.deepEqual(
    list.map((ep) => ep.active),
    [100, 100, 100, 100],
  );
});
