// Long entry lists are narrowed by path segment before matching; the first match must stay the
// one a plain scan of the list finds.
import test from "ava";
import { literalSegments } from "../../../gateway/routing/path-shape.js";
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

test("only whole segments spelled out literally at the start of a pattern are claimed", (t) => {
  t.deepEqual(literalSegments("/items/[0-9]+"), ["items"]);
  t.deepEqual(literalSegments("^/api/v1/.*"), ["api", "v1"]);
  t.deepEqual(literalSegments("\\/static\\/[a-z]+"), ["static"]);
  t.deepEqual(literalSegments("/items"), []);
  t.deepEqual(literalSegments("/api/?x"), [], "the quantified slash may be absent");
  t.deepEqual(literalSegments("/ab+/c"), [], "the quantified letter may repeat");
  t.deepEqual(literalSegments("/a/x|/b/y"), [], "another branch may start anywhere");
  t.deepEqual(literalSegments("/\\d/x/"), [], "a class escape is no literal letter");
  t.deepEqual(literalSegments(".*/x/"), []);
  t.deepEqual(literalSegments("(/a)/b/"), []);
});

// A long list exercises the segment index; a plain scan written here is the reference.
const longList: EntrySpec[] = [
  { path: exact("/") },
  { path: exact("/api/") },
  { path: prefix("/api/v1/users") },
  { path: regex("/api/v[0-9]+/items/.*") },
  { path: exact("/api/v1/users/me") },
  { path: prefix("/api/v1") },
  { path: regex("\\/static\\/[a-z]+\\.js") },
  { path: prefix("/api") },
  { path: regex("/(api|v2)/x") },
  { path: regex("/items?/[0-9]+") },
  { path: exact("/static") },
  { path: prefix("/static/img/") },
  { path: prefix("/sta") },
  { path: exact("/api/v1/users") },
  { path: regex("/[a-z]+/v2/.*") },
  { path: regex("/api/?x") },
  { path: regex("/static/x|/other/y") },
  { path: prefix("/api/v2"), method: "POST" },
  { path: prefix("/") },
];

function referenceMatch(path: string, method: string): number | undefined {
  const i = longList.findIndex((e) => {
    if (e.method !== undefined && e.method !== method) return false;
    const p = e.path ?? prefix("/");
    if (p.type === "Exact") return path === p.value;
    if (p.type === "RegularExpression") return new RegExp(`^(?:${p.value})$`).test(path);
    const trimmed = p.value.replace(/\/+$/, "");
    // The "/" prefix takes every request target, even one that is not a path.
    return trimmed === "" || path === trimmed || path.startsWith(`${trimmed}/`);
  });
  return i === -1 ? undefined : i;
}

test("a long list narrowed by path segments finds the same first match as a plain scan", (t) => {
  const withCatchAll = portRouter(listener("l", undefined, longList));
  const withoutCatchAll = portRouter(listener("l", undefined, longList.slice(0, -1)));
  const paths = [
    "/",
    "//",
    "/api",
    "/api/",
    "/api/v1",
    "/api/v1/",
    "/api/v1/users",
    "/api/v1/users/",
    "/api/v1/users/me",
    "/api/v1/users/me/x",
    "/api/v1x",
    "/api/v2",
    "/api/v2/items/9",
    "/api/v3/items/9",
    "/api/x",
    "/v2/x",
    "/x/v2/y",
    "/static",
    "/static/",
    "/static/app.js",
    "/static/img",
    "/static/img/a.png",
    "/sta",
    "/stat",
    "/item/1",
    "/items/1",
    "/itemss/1",
    "/other",
    "/other/y",
    "/apix",
    "/api/x/",
    "*",
    "",
  ];
  for (const path of paths) {
    for (const method of ["GET", "POST"]) {
      const expected = referenceMatch(path, method);
      const want = expected === undefined ? undefined : `l#${expected}`;
      t.is(routed(withCatchAll, req("h", path, { method })), want, `${method} ${path}`);
      const withoutWant = expected === longList.length - 1 ? undefined : want;
      t.is(
        routed(withoutCatchAll, req("h", path, { method })),
        withoutWant,
        `${method} ${path} (no catch-all)`,
      );
    }
  }
});
