// The bounded body copy: whole bodies are kept, over-long and aborted ones dropped at once.
import test from "ava";
import { BodyTee, type TeeOutcome } from "../../../gateway/mirror/body-tee.js";

function tee(maxBytes: number): { tee: BodyTee; outcomes: TeeOutcome[] } {
  const outcomes: TeeOutcome[] = [];
  return { tee: new BodyTee(maxBytes, (o) => outcomes.push(o)), outcomes };
}

test("a body within the bound is kept as copies of its chunks", (t) => {
  const { tee: body, outcomes } = tee(10);
  const reused = new Uint8Array([1, 2, 3]);
  body.write(reused);
  reused.fill(9); // uWS reuses its buffers: the tee must hold its own copy
  body.write(new Uint8Array([4, 5, 6, 7]).buffer);
  body.write(new Uint8Array(3).fill(8));
  body.end();
  body.end();
  t.is(outcomes.length, 1);
  const [outcome] = outcomes;
  if (outcome?.kind !== "complete") return t.fail(String(outcome?.kind));
  t.is(outcome.bytes, 10);
  t.deepEqual([...Buffer.concat(outcome.chunks)], [1, 2, 3, 4, 5, 6, 7, 8, 8, 8]);
});

test("past the bound the copy is dropped and later chunks are ignored", (t) => {
  const { tee: body, outcomes } = tee(8);
  body.write(Buffer.alloc(5));
  body.write(Buffer.alloc(5));
  t.true(body.done);
  t.is(body.heldBytes, 0);
  body.write(Buffer.alloc(1));
  body.end();
  t.deepEqual(outcomes, [{ kind: "too_large" }]);
});

test("a declared length over the bound gives up before any byte arrives", (t) => {
  const { tee: body, outcomes } = tee(8);
  body.declare(9);
  t.deepEqual(outcomes, [{ kind: "too_large" }]);
  const within = tee(8);
  within.tee.declare(8);
  t.deepEqual(within.outcomes, []);
});

test("abort drops what was collected", (t) => {
  const { tee: body, outcomes } = tee(8);
  body.write(Buffer.alloc(4));
  body.abort();
  body.end();
  t.deepEqual(outcomes, [{ kind: "aborted" }]);
  t.is(body.heldBytes, 0);
});
