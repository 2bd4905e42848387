// SNI routing without sockets: Gateway API hostname precedence and weighted backend choice.
import test from "ava";
import { type PassthroughBackend, type PassthroughRoute, PassthroughTable } from "../../../gateway/passthrough/routes.js";

const backend = (port: number, weight = 1): PassthroughBackend => ({ address: "10.0.0.1", port, weight });
const route = (name: string, hostnames: string[], ...backends: PassthroughBackend[]): PassthroughRoute => ({
  name,
  hostnames,
  backends: backends.length > 0 ? backends : [backend(1)],
});
const routeOf = (table: PassthroughTable, name: string | undefined) => table.match(name)?.route.name;

/** Random numbers from a fixed list, so a weighted choice is predictable. */
const sequence = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length] ?? 0;
};

test("exact beats wildcard beats catch-all, whatever the route order", (t) => {
  const table = new PassthroughTable([
    route("ns/catch", []),
    route("ns/wild", ["*.example.com"]),
    route("ns/exact", ["a.example.com"]),
  ]);
  t.is(routeOf(table, "a.example.com"), "ns/exact");
  t.is(routeOf(table, "b.example.com"), "ns/wild");
  t.is(routeOf(table, "example.org"), "ns/catch");
});

test("a wildcard covers one or more labels but not its own suffix", (t) => {
  const table = new PassthroughTable([route("ns/wild", ["*.example.com"])]);
  for (const name of ["foo.example.com", "a.b.example.com", "x.y.z.example.com"]) {
    t.is(routeOf(table, name), "ns/wild", name);
  }
  for (const name of ["example.com", "fooexample.com", "example.com.evil", "com", ".example.com"]) {
    t.is(routeOf(table, name), undefined, name);
  }
});

test("the longest wildcard wins", (t) => {
  const table = new PassthroughTable([route("ns/short", ["*.example.com"]), route("ns/long", ["*.b.example.com"])]);
  t.is(routeOf(table, "a.b.example.com"), "ns/long");
  t.is(routeOf(table, "x.a.b.example.com"), "ns/long");
  t.is(routeOf(table, "b.example.com"), "ns/short");
  t.is(routeOf(table, "a.c.example.com"), "ns/short");
});

test("an exact name does not cover its subdomains", (t) => {
  const table = new PassthroughTable([route("ns/exact", ["example.com"])]);
  t.is(routeOf(table, "example.com"), "ns/exact");
  t.is(routeOf(table, "www.example.com"), undefined);
});

test("a client without SNI reaches only a route without hostnames", (t) => {
  t.is(routeOf(new PassthroughTable([route("ns/a", ["a.example.com"]), route("ns/wild", ["*.com"])]), undefined), undefined);
  const table = new PassthroughTable([route("ns/a", ["a.example.com"]), route("ns/catch", [])]);
  t.is(routeOf(table, undefined), "ns/catch");
});

test("ties go to the earlier route", (t) => {
  const table = new PassthroughTable([
    route("ns/first", ["a.example.com", "*.example.com"]),
    route("ns/second", ["a.example.com", "*.example.com"]),
    route("ns/catch-1", []),
    route("ns/catch-2", []),
  ]);
  t.is(routeOf(table, "a.example.com"), "ns/first");
  t.is(routeOf(table, "b.example.com"), "ns/first");
  t.is(routeOf(table, "other.org"), "ns/catch-1");
});

test("names compare case-insensitively", (t) => {
  const table = new PassthroughTable([route("ns/a", ["A.Example.COM"]), route("ns/w", ["*.Wild.Example.com"])]);
  t.is(routeOf(table, "a.example.com"), "ns/a");
  t.is(routeOf(table, "A.EXAMPLE.com"), "ns/a");
  t.is(routeOf(table, "X.wild.example.COM"), "ns/w");
});

test("a trailing dot names the same host", (t) => {
  const table = new PassthroughTable([route("ns/a", ["a.example.com"]), route("ns/w", ["*.wild.example.com"])]);
  t.is(routeOf(table, "a.example.com."), "ns/a");
  t.is(routeOf(table, "A.Example.COM."), "ns/a");
  t.is(routeOf(table, "x.wild.example.com."), "ns/w");
  t.is(routeOf(table, "a.example.com.."), undefined);
});

test("no routes, no match", (t) => {
  t.is(new PassthroughTable([]).match("a.example.com"), undefined);
  t.is(new PassthroughTable([]).match(undefined), undefined);
});

test("weighted choice follows the cumulative weights", (t) => {
  const backends = [backend(1, 1), backend(2, 3), backend(3, 0), backend(4, 4)];
  // Total 8: [0,1) -> port 1, [1,4) -> port 2, [4,8) -> port 4; weight 0 owns no range.
  const draws = [0, 0.12, 0.125, 0.49, 0.5, 0.999999];
  const table = new PassthroughTable([route("ns/r", [], ...backends)], sequence(...draws));
  t.deepEqual(
    draws.map(() => table.match("x")?.backend.port),
    [1, 1, 2, 2, 4, 4],
  );
});

test("weight 0 is never chosen, and all weights 0 is no match", (t) => {
  const skewed = new PassthroughTable([route("ns/r", [], backend(1, 0), backend(2, 5))], sequence(0, 0.5, 0.9999));
  for (let i = 0; i < 3; i++) t.is(skewed.match("x")?.backend.port, 2);

  // The name matched a route the owner gave no usable backend: refused, not handed to the
  // catch-all.
  const drained = new PassthroughTable([route("ns/zero", ["a.example.com"], backend(1, 0)), route("ns/catch", [])]);
  t.is(drained.match("a.example.com"), undefined);
  t.is(routeOf(drained, "b.example.com"), "ns/catch");
  t.is(new PassthroughTable([{ name: "ns/none", hostnames: [], backends: [] }]).match("x"), undefined);
});

test("Math.random split is roughly the weights", (t) => {
  const table = new PassthroughTable([route("ns/r", [], backend(1, 1), backend(2, 3))]);
  let first = 0;
  for (let i = 0; i < 10_000; i++) if (table.match("x")?.backend.port === 1) first++;
  t.true(first > 2200 && first < 2800, `${first} of 10000 for weight 1 of 4`);
});
