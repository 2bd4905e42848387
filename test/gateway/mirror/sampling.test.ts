// Which requests get mirrored: percent and fraction as Gateway API defines them.
import test from "ava";
import { mirrorProbability, shouldMirror } from "../../../gateway/mirror/sampling.js";
import { seededRandom } from "../../support/seeded-random.js";

function draws(probability: number, n: number, seed: number): number {
  const random = seededRandom(seed);
  let mirrored = 0;
  for (let i = 0; i < n; i++) if (shouldMirror(probability, random)) mirrored++;
  return mirrored;
}

test("percent 0 never mirrors, 100 always does, 50 about half of 400 draws", (t) => {
  t.is(draws(mirrorProbability({ percent: 0 }), 400, 1), 0);
  t.is(draws(mirrorProbability({ percent: 100 }), 400, 2), 400);
  const half = draws(mirrorProbability({ percent: 50 }), 400, 3);
  t.true(half > 160 && half < 240, `${half} of 400`);
});

test("the ends never consult the random source", (t) => {
  const never = (): number => {
    throw new Error("drawn");
  };
  t.true(shouldMirror(1, never));
  t.false(shouldMirror(0, never));
});

test("fraction: numerator over denominator, which defaults to 100", (t) => {
  t.is(mirrorProbability({ fraction: { numerator: 1, denominator: 4 } }), 0.25);
  t.is(mirrorProbability({ fraction: { numerator: 5 } }), 0.05);
  t.is(mirrorProbability({}), 1);
  const quarter = draws(mirrorProbability({ fraction: { numerator: 1, denominator: 4 } }), 400, 4);
  t.true(quarter > 60 && quarter < 140, `${quarter} of 400`);
});

test("values Gateway API forbids are refused", (t) => {
  t.throws(() => mirrorProbability({ percent: 101 }), { instanceOf: RangeError });
  t.throws(() => mirrorProbability({ percent: -1 }), { instanceOf: RangeError });
  t.throws(() => mirrorProbability({ percent: 12.5 }), { instanceOf: RangeError });
  t.throws(() => mirrorProbability({ fraction: { numerator: 3, denominator: 2 } }), { instanceOf: RangeError });
  t.throws(() => mirrorProbability({ fraction: { numerator: 1, denominator: 0 } }), { instanceOf: RangeError });
  t.throws(() => mirrorProbability({ percent: 5, fraction: { numerator: 1 } }), { instanceOf: RangeError });
});
