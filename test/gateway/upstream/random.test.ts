// Weighted random choice and the alias table behind it.
import test from "ava";
import { WeightedRandom } from "../../../gateway/upstream/balancer.js";
import { AliasTable } from "../../../gateway/upstream/lb/alias-table.js";
import { seededRandom } from "../../support/seeded-random.js";
import { ctx, endpoints, tally } from "../../support/upstream-fixtures.js";

test("the alias table maps the unit interval to indices in exact proportion to weights", (t) => {
  const weights = [1, 2, 7, 0, 10];
  const table = new AliasTable(weights);
  const grid = 20_000;
  const counts = new Array<number>(weights.length).fill(0);
  for (let k = 0; k < grid; k++) counts[table.sample((k + 0.5) / grid)]!++;
  // Each column is split at most once, so the grid can be off by one point per column.
  weights.forEach((w, i) =>
    t.true(Math.abs(counts[i]! - (grid * w) / 20) <= weights.length, `${i}: ${counts[i]}`),
  );
  t.is(counts[3], 0);
});

test("the alias table stays in range at the top of the interval", (t) => {
  const table = new AliasTable([1, 1, 1]);
  t.true(table.sample(1 - Number.EPSILON) < 3);
});

test("picks are spread in proportion to weights", (t) => {
  const lb = new WeightedRandom(endpoints([1, 2, 7]), seededRandom(7));
  const counts = tally(100_000, () => lb.pick(ctx(), 0));
  t.true(Math.abs((counts["a"] ?? 0) / 100_000 - 0.1) < 0.01, JSON.stringify(counts));
  t.true(Math.abs((counts["b"] ?? 0) / 100_000 - 0.2) < 0.01, JSON.stringify(counts));
  t.true(Math.abs((counts["c"] ?? 0) / 100_000 - 0.7) < 0.01, JSON.stringify(counts));
});

test("with the heavy endpoint ejected the rest keep their relative weights", (t) => {
  const list = endpoints([8, 1, 3]);
  list[0]!.ejectedUntil = 10;
  const lb = new WeightedRandom(list, seededRandom(8));
  const counts = tally(40_000, () => lb.pick(ctx(), 0));
  t.is(counts["a"], undefined);
  t.true(Math.abs((counts["c"] ?? 0) / 40_000 - 0.75) < 0.02, JSON.stringify(counts));
});
