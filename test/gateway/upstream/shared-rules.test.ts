// The rules every balancer follows: ejected endpoints are skipped, panic mode when all are
// ejected, a retry's excluded endpoint is avoided when another is admitted.
import test from "ava";
import type { LoadBalancerConfig } from "../../../gateway/snapshot.js";
import { createBalancer } from "../../../gateway/upstream/balancer.js";
import { seededRandom } from "../../support/seeded-random.js";
import { ctx, endpoints, letter, tally } from "../../support/upstream-fixtures.js";

const kinds: [string, LoadBalancerConfig][] = [
  ["round robin", { type: "RoundRobin" }],
  ["least request", { type: "LeastRequest", choices: 2 }],
  ["random", { type: "Random" }],
  ["consistent hash", { type: "ConsistentHash", hashOn: { type: "Header", name: "x-user" } }],
];

/** Distinct keys for the hash balancer; ignored by the others. */
let n = 0;
const request = () => ctx({ "x-user": `user-${n++}` });

for (const [name, cfg] of kinds) {
  test(`${name}: never picks an ejected endpoint while another is admitted`, (t) => {
    const list = endpoints([1, 1, 1, 1, 1]);
    const lb = createBalancer(cfg, list, seededRandom(1));
    list[1]!.ejectedUntil = 2000;
    list[3]!.ejectedUntil = 2000;
    const counts = tally(3000, () => lb.pick(request(), 1999));
    t.deepEqual(Object.keys(counts).sort(), ["a", "c", "e"]);
    for (const k of ["a", "c", "e"]) t.true(counts[k]! > 700, JSON.stringify(counts));
  });

  test(`${name}: panic mode spreads over all endpoints when every one is ejected`, (t) => {
    const list = endpoints([1, 1, 1]);
    const lb = createBalancer(cfg, list, seededRandom(2));
    for (const ep of list) ep.ejectedUntil = 2000;
    list[2]!.ejectedUntil = 1500;
    const counts = tally(3000, () => lb.pick(request(), 1000));
    t.deepEqual(Object.keys(counts).sort(), ["a", "b", "c"]);
    // Once one comes back, panic ends and only it is used.
    t.deepEqual(tally(50, () => lb.pick(request(), 1500)), { c: 50 });
  });

  test(`${name}: a retry avoids the endpoint that just failed`, (t) => {
    const list = endpoints([1, 1, 1]);
    const lb = createBalancer(cfg, list, seededRandom(3));
    for (let i = 0; i < 300; i++) {
      const req = request();
      const first = lb.pick(req, 0);
      const retry = lb.pick(req, 0, first);
      t.truthy(retry);
      if (retry === first) t.fail(`retry went back to ${letter(first)}`);
    }
  });

  test(`${name}: a retry returns to the failed endpoint when it is the only admitted one`, (t) => {
    const list = endpoints([1, 1]);
    const lb = createBalancer(cfg, list, seededRandom(4));
    list[1]!.ejectedUntil = 5000;
    t.deepEqual(tally(20, () => lb.pick(request(), 0, list[0])), { a: 20 });
  });

  test(`${name}: in panic mode a retry still avoids the failed endpoint`, (t) => {
    const list = endpoints([1, 1]);
    const lb = createBalancer(cfg, list, seededRandom(5));
    for (const ep of list) ep.ejectedUntil = 5000;
    t.deepEqual(tally(20, () => lb.pick(request(), 0, list[0])), { b: 20 });
  });

  test(`${name}: one endpoint is always the answer; no endpoint gives undefined`, (t) => {
    const one = endpoints([3]);
    const lb = createBalancer(cfg, one, seededRandom(6));
    one[0]!.ejectedUntil = 9000;
    t.is(lb.pick(request(), 0, one[0]), one[0]);
    t.is(createBalancer(cfg, [], seededRandom(6)).pick(request(), 0), undefined);
  });
}
