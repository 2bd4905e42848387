// Consistent hashing: affinity per key, minimal movement when endpoints change, key sources.
import test from "ava";
import type { EndpointState } from "../../../gateway/upstream/endpoint-state.js";
import {
  ConsistentHash,
  cookieValue,
  createBalancer,
  SmoothRoundRobin,
} from "../../../gateway/upstream/balancer.js";
import type { HashOn } from "../../../gateway/upstream/lb/consistent-hash.js";
import { seededRandom } from "../../support/seeded-random.js";
import { ctx, endpoints, tally } from "../../support/upstream-fixtures.js";

const byUser: HashOn = { type: "Header", name: "x-user" };
const ring = (list: EndpointState[], hashOn: HashOn = byUser) =>
  new ConsistentHash(list, hashOn, new SmoothRoundRobin(list));
const user = (i: number) => ctx({ "x-user": `user-${i}` });
const KEYS = 10_000;

function owners(lb: ConsistentHash): (EndpointState | undefined)[] {
  return Array.from({ length: KEYS }, (_, i) => lb.pick(user(i), 0));
}

test("the same key always reaches the same endpoint, and keys spread over all endpoints", (t) => {
  const list = endpoints(Array.from({ length: 10 }, () => 1));
  const lb = ring(list);
  const first = owners(lb);
  t.deepEqual(owners(lb), first);
  const rebuilt = owners(ring(endpoints(Array.from({ length: 10 }, () => 1))));
  t.deepEqual(
    rebuilt.map((ep) => ep?.key),
    first.map((ep) => ep?.key),
    "a ring built again from the same endpoints maps keys the same way",
  );
  const share = new Map<EndpointState | undefined, number>();
  for (const ep of first) share.set(ep, (share.get(ep) ?? 0) + 1);
  t.is(share.size, 10);
  for (const count of share.values()) t.true(count > 600 && count < 1400, `one endpoint owns ${count} keys`);
});

test("removing one of ten endpoints moves only its own keys, about a tenth", (t) => {
  const list = endpoints(Array.from({ length: 10 }, () => 1));
  const before = owners(ring(list));
  const removed = list[3]!;
  const after = owners(ring(list.filter((ep) => ep !== removed)));
  let moved = 0;
  for (let i = 0; i < KEYS; i++) {
    if (after[i] === before[i]) continue;
    moved++;
    if (before[i] !== removed) t.fail(`key ${i} moved from ${before[i]?.key} though its endpoint stayed`);
  }
  t.true(moved > 600 && moved < 1400, `${moved} of ${KEYS} keys moved`);
});

test("adding an endpoint takes about its share of keys and moves no others", (t) => {
  const list = endpoints(Array.from({ length: 11 }, () => 1));
  const before = owners(ring(list.slice(0, 10)));
  const after = owners(ring(list));
  let moved = 0;
  for (let i = 0; i < KEYS; i++) {
    if (after[i] === before[i]) continue;
    moved++;
    if (after[i] !== list[10]) t.fail(`key ${i} moved between old endpoints`);
  }
  t.true(moved > 500 && moved < 1300, `${moved} of ${KEYS} keys moved`);
});

test("weight gives an endpoint a proportional share of keys", (t) => {
  const list = endpoints([3, 1]);
  const counts = tally(KEYS, (() => {
    let i = 0;
    const lb = ring(list);
    return () => lb.pick(user(i++), 0);
  })());
  t.true(Math.abs((counts["a"] ?? 0) / KEYS - 0.75) < 0.05, JSON.stringify(counts));
});

test("an ejected endpoint's keys go to the next endpoints on the ring and come back with it", (t) => {
  const list = endpoints(Array.from({ length: 5 }, () => 1));
  const lb = ring(list);
  const before = owners(lb);
  list[2]!.ejectedUntil = 1000;
  const during = Array.from({ length: KEYS }, (_, i) => lb.pick(user(i), 500));
  for (let i = 0; i < KEYS; i++) {
    if (before[i] === list[2]) t.not(during[i], list[2]);
    else if (during[i] !== before[i]) t.fail(`key ${i} of a healthy endpoint moved`);
  }
  const moved = new Set(during.filter((_, i) => before[i] === list[2]));
  t.true(moved.size >= 3, "an ejected endpoint's keys should scatter, not pile onto one neighbour");
  t.deepEqual(Array.from({ length: KEYS }, (_, i) => lb.pick(user(i), 1000)), before);
});

test("the header name is matched case-insensitively; header values are the key as sent", (t) => {
  const list = endpoints([1, 1, 1, 1]);
  const lb = ring(list, { type: "Header", name: "X-Session" });
  const picks = new Set(Array.from({ length: 20 }, () => lb.pick(ctx({ "x-session": "s-42" }), 0)));
  t.is(picks.size, 1);
});

test("a cookie's value is the key wherever it sits in the Cookie header", (t) => {
  const list = endpoints([1, 1, 1, 1, 1, 1]);
  const lb = ring(list, { type: "Cookie", name: "sid" });
  const expected = lb.pick(ctx({ cookie: "sid=abc" }), 0);
  const headers = ["theme=dark; sid=abc", "sid=abc; lang=en", "a=1;sid=abc;b=2", 'xsid=zzz; sid="abc"'];
  for (const cookie of headers) t.is(lb.pick(ctx({ cookie }), 0), expected, cookie);
  const others = new Set(Array.from({ length: 50 }, (_, i) => lb.pick(ctx({ cookie: `sid=s${i}` }), 0)));
  t.true(others.size > 3);
});

test("cookie parsing: exact names, quotes and spaces removed, absent gives undefined", (t) => {
  t.is(cookieValue("sid=1", "sid"), "1");
  t.is(cookieValue("xsid=1; sid = 2 ", "sid"), "2");
  t.is(cookieValue('sid="q v"', "sid"), "q v");
  t.is(cookieValue("SID=1", "sid"), undefined);
  t.is(cookieValue("sidx=1; a=sid=2", "sid"), undefined);
  t.is(cookieValue("sid=", "sid"), "");
  t.is(cookieValue("sid", "sid"), undefined);
  t.is(cookieValue(undefined, "sid"), undefined);
  t.is(cookieValue("a=b=c", "a"), "b=c");
});

test("the source address is the key when hashing on the client IP", (t) => {
  const lb = createBalancer(
    { type: "ConsistentHash", hashOn: { type: "SourceIP" } },
    endpoints([1, 1, 1, 1]),
  );
  const a = lb.pick(ctx({}, "198.51.100.7"), 0);
  for (let i = 0; i < 10; i++) t.is(lb.pick(ctx({ "x-user": `${i}` }, "198.51.100.7"), 0), a);
  const spread = new Set(Array.from({ length: 40 }, (_, i) => lb.pick(ctx({}, `203.0.113.${i}`), 0)));
  t.is(spread.size, 4);
});

test("requests without the key (absent or empty) are spread by round robin", (t) => {
  const lb = createBalancer(
    { type: "ConsistentHash", hashOn: { type: "Cookie", name: "sid" } },
    endpoints([1, 1, 1]),
    seededRandom(9),
  );
  t.deepEqual(tally(300, () => lb.pick(ctx({ cookie: "other=1" }), 0)), { a: 100, b: 100, c: 100 });
  t.deepEqual(tally(300, () => lb.pick(ctx({ cookie: "sid=" }), 0)), { a: 100, b: 100, c: 100 });
});
