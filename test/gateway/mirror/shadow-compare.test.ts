// Shadow comparison: matches and mismatches counted per route, a bounded sample kept.
import test from "ava";
import { BoundedHasher, differences, type ResponseDigest, ShadowCompare, selectHeaders } from "../../../gateway/mirror/shadow-compare.js";
import { sha256 } from "./fixtures.js";

const digest = (status: number, body: string, headers: Record<string, string> = {}): ResponseDigest => ({
  status,
  headers,
  bodySha256: sha256(body),
});

test("the bounded hasher hashes up to its bound and gives up past it", (t) => {
  const within = new BoundedHasher(10);
  within.update(Buffer.from("hello"));
  within.update(Buffer.from("world"));
  t.is(within.digest(), sha256("helloworld"));
  const over = new BoundedHasher(9);
  over.update(Buffer.from("hello"));
  over.update(Buffer.from("world"));
  t.is(over.digest(), null);
});

test("differences name status, selected headers and body", (t) => {
  const names = ["content-type"];
  t.deepEqual(differences(digest(200, "a"), digest(200, "a"), names), []);
  t.deepEqual(
    differences(digest(200, "a", { "content-type": "text/plain" }), digest(500, "b", { "content-type": "text/html" }), names),
    ["status", "header:content-type", "body"],
  );
  const unknownBody = { ...digest(200, "b"), bodySha256: null };
  t.deepEqual(differences(digest(200, "a"), unknownBody, names), []);
  t.deepEqual(selectHeaders({ "content-type": "a", "set-cookie": ["x", "y"], other: "z" }, ["content-type", "set-cookie", "etag"]), {
    "content-type": "a",
    "set-cookie": "x, y",
  });
});

test("matches and mismatches are counted per route; only the last samples are kept", (t) => {
  let clock = 0;
  const compare = new ShadowCompare({ headerNames: ["Content-Type"], sampleSize: 3, now: () => ++clock });
  compare.record("r1", digest(200, "same"), digest(200, "same"));
  for (let i = 0; i < 5; i++) compare.record("r1", digest(200, "same"), digest(200 + i + 1, "same"));
  compare.record("r2", digest(200, "x", { "content-type": "a" }), digest(200, "x", { "content-type": "b" }));
  const r1 = compare.report("r1");
  t.is(r1?.matched, 1);
  t.is(r1?.mismatched, 5);
  t.deepEqual(
    r1?.samples.map((s) => s.mirror.status),
    [203, 204, 205],
  );
  t.deepEqual(compare.report("r2")?.samples[0]?.differences, ["header:content-type"]);
  t.is(compare.report("r3"), undefined);
});

test("a pair compares once both sides arrived, in either order, and not after abandon", (t) => {
  const compare = new ShadowCompare({ headerNames: [] });
  const first = compare.pair("r");
  first.mirror(digest(200, "a"));
  t.is(compare.report("r"), undefined);
  first.primary(digest(200, "a"));
  const second = compare.pair("r");
  second.primary(digest(200, "a"));
  second.mirror(digest(200, "b"));
  const third = compare.pair("r");
  third.primary(digest(200, "a"));
  third.abandon();
  third.mirror(digest(500, "a"));
  t.like(compare.report("r"), { matched: 1, mismatched: 1 });
});

test("the number of routes tracked is bounded", (t) => {
  const compare = new ShadowCompare({ headerNames: [], maxRoutes: 2 });
  for (const route of ["a", "b", "c"]) compare.record(route, digest(200, ""), digest(200, ""));
  t.truthy(compare.report("b"));
  t.is(compare.report("c"), undefined);
});
