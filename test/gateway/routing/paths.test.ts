// Path conditions: Exact, PathPrefix by whole segments, RegularExpression as a full match, and
// the translator's order kept as given.
import test from "ava";
import {
  type EntrySpec,
  exact,
  listener,
  portRouter,
  prefix,
  regex,
  req,
  routed,
} from "../../support/routing-port.js";

const single = (spec: EntrySpec) => portRouter(listener("l", undefined, [spec]));
const hits = (spec: EntrySpec, path: string) => single(spec).route(req("h", path)) !== undefined;

test("PathPrefix matches whole segments only", (t) => {
  const p = { path: prefix("/foo") };
  for (const path of ["/foo", "/foo/", "/foo/bar", "/foo/bar/baz"]) t.true(hits(p, path), path);
  for (const path of ["/foobar", "/fo", "/", "/bar/foo", "/Foo"]) t.false(hits(p, path), path);
});

test("a trailing slash in the prefix is ignored", (t) => {
  const p = { path: prefix("/foo/") };
  for (const path of ["/foo", "/foo/", "/foo/bar"]) t.true(hits(p, path), path);
  t.false(hits(p, "/foobar"));
});

test("multi-segment prefixes respect every boundary", (t) => {
  const p = { path: prefix("/api/v1") };
  t.true(hits(p, "/api/v1"));
  t.true(hits(p, "/api/v1/users"));
  t.false(hits(p, "/api/v10"));
  t.false(hits(p, "/api"));
});

test('the "/" prefix matches every path', (t) => {
  for (const path of ["/", "/a", "/a/b/", "//x"]) t.true(hits({ path: prefix("/") }, path), path);
});

test("Exact compares the whole path, case and trailing slash included", (t) => {
  const e = { path: exact("/abc") };
  t.true(hits(e, "/abc"));
  for (const path of ["/abc/", "/Abc", "/abcd", "/ab"]) t.false(hits(e, path), path);
});

test("paths are compared as received, percent-encoding included", (t) => {
  t.true(hits({ path: exact("/a%20b") }, "/a%20b"));
  t.false(hits({ path: exact("/a b") }, "/a%20b"));
});

test("RegularExpression must match the full path", (t) => {
  const e = { path: regex("/items/[0-9]+") };
  t.true(hits(e, "/items/42"));
  for (const path of ["/items/42x", "/x/items/42", "/items/", "/items/42/"]) t.false(hits(e, path), path);
  // Anchors written by the user do no harm.
  t.true(hits({ path: regex("^/items/[0-9]+$") }, "/items/7"));
});

test("a regular expression alternation is anchored on every branch", (t) => {
  const e = { path: regex("/a|/b") };
  t.true(hits(e, "/a"));
  t.true(hits(e, "/b"));
  t.false(hits(e, "/bx"));
  t.false(hits(e, "/xa"));
});

test("matchedPrefix carries the PathPrefix value, and nothing for other path types", (t) => {
  const r = portRouter(
    listener("l", undefined, [{ path: exact("/e") }, { path: regex("/r.*") }, { path: prefix("/p/") }]),
  );
  t.is(r.route(req("h", "/p/x"))?.matchedPrefix, "/p/");
  t.is(r.route(req("h", "/e"))?.matchedPrefix, undefined);
  t.is(r.route(req("h", "/rx"))?.matchedPrefix, undefined);
});

test("exact, prefix and regex entries are tried in the given order, not re-ranked", (t) => {
  const r = portRouter(
    listener("l", undefined, [
      { path: regex("/v[0-9]/.*") },
      { path: prefix("/v1") },
      { path: exact("/v1/users") },
    ]),
  );
  t.is(routed(r, req("h", "/v1/users")), "l#0");
  t.is(routed(r, req("h", "/v1")), "l#1");
});
