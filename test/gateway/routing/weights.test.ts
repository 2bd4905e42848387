// Weighted backend choice: cumulative weights over a random point in [0, 1).
import test from "ava";
import type { CompiledAction } from "../../../gateway/routing/router.js";
import { listener, portRouter, req } from "../../support/routing-port.js";

function actionWith(backends: { cluster: string | null; weight: number }[]): CompiledAction {
  const r = portRouter(listener("l", undefined, [{ action: { backends } }]));
  const match = r.route(req("h", "/"));
  if (match === undefined) throw new Error("test route did not match");
  return match.action;
}

const clusterAt = (action: CompiledAction, random: number) => action.pickBackend(random)?.cluster;

test("random points fall into each backend's share of the total weight", (t) => {
  const a = actionWith([
    { cluster: "a", weight: 3 },
    { cluster: "b", weight: 1 },
  ]);
  t.is(clusterAt(a, 0), "a");
  t.is(clusterAt(a, 0.7499), "a");
  t.is(clusterAt(a, 0.75), "b");
  t.is(clusterAt(a, 0.9999), "b");
});

test("over evenly spread draws, each backend gets exactly its share", (t) => {
  const a = actionWith([
    { cluster: "a", weight: 5 },
    { cluster: "b", weight: 3 },
    { cluster: "c", weight: 2 },
  ]);
  const counts = new Map<string, number>();
  for (let i = 0; i < 1000; i++) {
    const c = clusterAt(a, i / 1000) ?? "none";
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  t.deepEqual(Object.fromEntries(counts), { a: 500, b: 300, c: 200 });
});

test("a weight-0 backend is never chosen, whatever the draw", (t) => {
  const a = actionWith([
    { cluster: "zero-first", weight: 0 },
    { cluster: "a", weight: 1 },
    { cluster: "zero-middle", weight: 0 },
    { cluster: "b", weight: 1 },
    { cluster: "zero-last", weight: 0 },
  ]);
  for (const random of [0, 0.25, 0.4999, 0.5, 0.75, 0.999999, 1, 1.5, -0.1, Number.NaN]) {
    const cluster = clusterAt(a, random);
    t.true(cluster === "a" || cluster === "b", `random ${random} gave ${cluster}`);
  }
  t.is(clusterAt(a, 0.4999), "a");
  t.is(clusterAt(a, 0.5), "b");
});

test("a single weighted backend is returned for every draw", (t) => {
  const a = actionWith([
    { cluster: "off", weight: 0 },
    { cluster: "on", weight: 7 },
  ]);
  for (const random of [0, 0.5, 0.99]) t.is(clusterAt(a, random), "on");
  t.is(a.pickBackend()?.cluster, "on");
});

test("no backend, or only weight-0 ones, gives no backend (the proxy's 500)", (t) => {
  t.is(actionWith([]).pickBackend(0.5), undefined);
  t.is(
    actionWith([
      { cluster: "a", weight: 0 },
      { cluster: "b", weight: 0 },
    ]).pickBackend(0.5),
    undefined,
  );
});

test("an unresolved backend keeps its share and comes back with cluster null", (t) => {
  const a = actionWith([
    { cluster: "ok", weight: 1 },
    { cluster: null, weight: 1 },
  ]);
  t.is(clusterAt(a, 0.25), "ok");
  const broken = a.pickBackend(0.75);
  t.not(broken, undefined);
  t.is(broken?.cluster, null);
});

test("without an explicit draw, picks stay within the weighted backends", (t) => {
  const a = actionWith([
    { cluster: "a", weight: 1 },
    { cluster: "never", weight: 0 },
    { cluster: "b", weight: 1 },
  ]);
  const seen = new Set<string | null | undefined>();
  for (let i = 0; i < 2000; i++) seen.add(a.pickBackend()?.cluster);
  t.deepEqual([...seen].sort(), ["a", "b"]);
});
