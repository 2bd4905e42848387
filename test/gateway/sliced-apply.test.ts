// The data plane compiles a big Snapshot in slices: the event loop keeps turning while it does,
// applies given together land in order, and a drain that starts mid-compile is not undone.
// Serial: each test parses seconds of YAML, which would stall the other one's event loop.
import { connect } from "node:net";
import test from "ava";
import { parseFile } from "../../controller/provider/file.js";
import { translate } from "../../controller/translate/index.js";
import { DataPlane } from "../../gateway/data-plane.js";
import { type Snapshot, validateSnapshot } from "../../gateway/snapshot.js";
import { bigConfig } from "../support/big-config.js";
import { freePort } from "../support/net.js";
import { countLoopTurns } from "../support/loop-turns.js";

function bigSnapshot(port: number, routes: number, version: number): Snapshot {
  const into = { resources: [] as Parameters<typeof translate>[0][number][], errors: [] };
  parseFile("big.yaml", bigConfig({ port, backendPort: 9, routes, generation: version }), into);
  const v = validateSnapshot(translate(into.resources, { version }).snapshot);
  if (!v.ok) throw new Error(v.errors.join("; "));
  return v.snapshot;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

test.serial("a 5,000-route apply lets the event loop turn many times; applies given together land in order", async (t) => {
  const port = await freePort();
  const first = bigSnapshot(port, 5000, 1);
  const second = bigSnapshot(port, 1000, 2);
  const plane = new DataPlane();
  const loop = countLoopTurns();
  try {
    const started = performance.now();
    const order: number[] = [];
    const a = plane.apply(first).then((r) => order.push(r.version));
    const b = plane.apply(second).then((r) => order.push(r.version));
    await Promise.all([a, b]);
    const { turns, longestMs: longest } = loop.stop();
    const took = performance.now() - started;
    t.log(
      `two applies (5,000 then 1,000 routes) in ${took.toFixed(0)} ms: ${turns} event-loop turns meanwhile, ` +
        `the longest ${longest.toFixed(1)} ms apart`,
    );
    t.deepEqual(order, [1, 2]);
    t.is(plane.version, 2);
    t.true(turns > 10, `${turns} turns`);
  } finally {
    loop.stop();
    await plane.drain(100);
  }
});

test.serial("a drain that begins while a Snapshot compiles leaves no port bound", async (t) => {
  const port = await freePort();
  const plane = new DataPlane();
  const applying = plane.apply(bigSnapshot(port, 5000, 1));
  const drained = plane.drain(100);
  await applying;
  await drained;
  t.false(await accepts(port), "nothing listens after the drain");
  t.is(plane.version, -1);
});
