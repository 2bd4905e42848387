// Outlier detection: consecutive failures eject, back-off grows and decays, the share is capped.
import test from "ava";
import { type OutlierConfig, outlierSchema } from "../../../gateway/snapshot.js";
import type { EndpointState } from "../../../gateway/upstream/endpoint-state.js";
import { OutlierDetector } from "../../../gateway/upstream/outlier.js";
import { endpoints } from "../../support/upstream-fixtures.js";

const config = (over: Partial<OutlierConfig> = {}) =>
  outlierSchema.parse({ consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionMs: 10_000, ...over });

/** Fails `ep` until the threshold; returns whether the last failure ejected. */
function failTimes(d: OutlierDetector, ep: EndpointState, times: number, now: number): boolean {
  let ejected = false;
  for (let i = 0; i < times; i++) ejected = d.failure(ep, now);
  return ejected;
}

test("an endpoint is ejected by the Nth consecutive failure, not before", (t) => {
  const list = endpoints([1, 1, 1, 1]);
  const d = new OutlierDetector(config(), () => list);
  const a = list[0]!;
  t.false(d.failure(a, 0));
  t.false(d.failure(a, 0));
  t.false(d.isEjected(a, 0));
  t.true(d.failure(a, 0));
  t.true(d.isEjected(a, 0));
  t.is(a.ejectedUntil, 1000);
});

test("a success in between resets the count", (t) => {
  const list = endpoints([1, 1]);
  const d = new OutlierDetector(config(), () => list);
  const a = list[0]!;
  failTimes(d, a, 2, 0);
  d.success(a);
  t.false(failTimes(d, a, 2, 0));
  t.true(d.failure(a, 0));
});

test("the endpoint is re-admitted when its ejection runs out, with a clean count", (t) => {
  const list = endpoints([1, 1]);
  const d = new OutlierDetector(config(), () => list);
  const a = list[0]!;
  failTimes(d, a, 3, 0);
  t.true(d.isEjected(a, 999));
  t.false(d.isEjected(a, 1000));
  t.is(a.ejectedUntil, 0);
  t.false(failTimes(d, a, 2, 1000), "failures before the ejection must not count again");
});

test("failures reported while ejected (requests sent before) are not counted", (t) => {
  const list = endpoints([1, 1]);
  const d = new OutlierDetector(config(), () => list);
  const a = list[0]!;
  failTimes(d, a, 3, 0);
  t.false(failTimes(d, a, 5, 500));
  t.is(a.ejectedUntil, 1000);
  t.false(failTimes(d, a, 2, 1000));
});

test("each ejection lasts one base period longer, up to the maximum", (t) => {
  const list = endpoints([1, 1]);
  const d = new OutlierDetector(config({ maxEjectionMs: 3500 }), () => list);
  const a = list[0]!;
  const durations: number[] = [];
  let now = 0;
  for (let i = 0; i < 5; i++) {
    t.true(failTimes(d, a, 3, now));
    durations.push(a.ejectedUntil - now);
    now = a.ejectedUntil;
  }
  t.deepEqual(durations, [1000, 2000, 3000, 3500, 3500]);
});

test("a long healthy stretch earns the back-off steps back", (t) => {
  const list = endpoints([1, 1]);
  const d = new OutlierDetector(config({ maxEjectionMs: 4000 }), () => list);
  const a = list[0]!;
  failTimes(d, a, 3, 0); // 1 s, back at 1000
  failTimes(d, a, 3, 1000); // 2 s, back at 3000
  failTimes(d, a, 3, 3000); // 3 s, back at 6000
  // 8 s admitted is two maximum ejection times: two steps off, so 2 s instead of the fourth's 4 s.
  t.true(failTimes(d, a, 3, 14_000));
  t.is(a.ejectedUntil - 14_000, 2000);
});

test("ejections stop at maxEjectionPercent of the cluster", (t) => {
  const list = endpoints([1, 1, 1, 1]);
  const d = new OutlierDetector(config({ maxEjectionPercent: 50 }), () => list);
  t.true(failTimes(d, list[0]!, 3, 0));
  t.true(failTimes(d, list[1]!, 3, 0));
  t.false(failTimes(d, list[2]!, 3, 0), "a third ejection would be 75%");
  t.false(d.isEjected(list[2]!, 0));
  // Once those two are back, the next failure of the refused endpoint ejects it.
  t.true(d.failure(list[2]!, 1000));
});

test("the share is counted after the ejection: 50% of three endpoints is one", (t) => {
  const list = endpoints([1, 1, 1]);
  const d = new OutlierDetector(config({ maxEjectionPercent: 50 }), () => list);
  t.true(failTimes(d, list[0]!, 3, 0));
  t.false(failTimes(d, list[1]!, 3, 0));
});

test("the first ejection is always allowed, as in Envoy, even at 0% or with one endpoint", (t) => {
  const four = endpoints([1, 1, 1, 1]);
  const none = new OutlierDetector(config({ maxEjectionPercent: 0 }), () => four);
  t.true(failTimes(none, four[0]!, 3, 0));
  t.false(failTimes(none, four[1]!, 3, 0));
  const one = endpoints([1]);
  t.true(failTimes(new OutlierDetector(config(), () => one), one[0]!, 3, 0));
});

test("consecutiveFailures 0 turns ejection off", (t) => {
  const list = endpoints([1, 1]);
  const d = new OutlierDetector(config({ consecutiveFailures: 0 }), () => list);
  t.false(failTimes(d, list[0]!, 100, 0));
  t.false(d.isEjected(list[0]!, 0));
});
