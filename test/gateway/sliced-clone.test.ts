// Data handed between threads in pieces comes back equal to what went in, own keys stay own
// keys, and the receiving event loop gets turns while a big value is rebuilt.
import test from "ava";
import fc from "fast-check";
import { pack, unpack } from "../../gateway/sliced-clone.js";
import { fcSeed } from "../support/fc-seed.js";
import { countLoopTurns } from "../support/loop-turns.js";

/** JSON-like values with long arrays (pieces of 3 items below) nested in one another. */
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null)),
  array: fc.array(tie("node"), { maxLength: 12 }),
  object: fc.dictionary(
    fc.oneof(fc.string(), fc.constantFrom("__proto__", "constructor", "0", "value")),
    tie("node"),
    { maxKeys: 5 },
  ),
  node: fc.oneof({ depthSize: "small" }, tie("leaf"), tie("array"), tie("object")),
})).node;

test("pack then unpack gives back an equal value, whatever arrays were cut", async (t) => {
  const seed = fcSeed();
  t.log(`seed=${seed} (replay: FC_SEED=${seed})`);
  await fc.assert(
    fc.asyncProperty(value, fc.integer({ min: 1, max: 4 }), async (v, pieceItems) => {
      const back = await unpack(pack(v, pieceItems), 0);
      t.deepEqual(back, structuredClone(v));
    }),
    { seed, numRuns: 500 },
  );
});

test('a "__proto__" key holding a long array stays an own property and no prototype changes', async (t) => {
  const input = JSON.parse('{"a": {"__proto__": [1, 2, 3, 4, 5]}}') as { a: Record<string, unknown> };
  const back = (await unpack(pack(input, 2), 0)) as { a: Record<string, unknown> };
  t.deepEqual(Object.getOwnPropertyDescriptor(back.a, "__proto__")?.value, [1, 2, 3, 4, 5]);
  t.is(Object.getPrototypeOf(back.a), Object.prototype);
  t.is(({} as Record<string, unknown>)["0"], undefined);
});

test("rebuilding a big value gives the event loop turns between slices", async (t) => {
  const big = { entries: Array.from({ length: 200_000 }, (_, i) => ({ i, path: `/r${i}`, tags: [i, i + 1] })) };
  const packed = pack(big);
  const loop = countLoopTurns();
  const started = performance.now();
  const back = (await unpack(packed, 5)) as typeof big;
  const { turns, longestMs: longest } = loop.stop();
  const took = performance.now() - started;
  t.log(`200,000 entries rebuilt in ${took.toFixed(0)} ms with ${turns} event-loop turns, longest gap ${longest.toFixed(1)} ms`);
  t.is(back.entries.length, 200_000);
  t.deepEqual(back.entries[123_456], { i: 123_456, path: "/r123456", tags: [123_456, 123_457] });
  t.true(turns >= 5, `${turns} turns`);
});
