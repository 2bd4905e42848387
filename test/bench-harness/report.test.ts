import test from "ava";
import {
  checkTargets,
  formatNotes,
  formatTable,
  formatTargets,
  median,
  type Sample,
  sampleKey,
  summarise,
} from "../bench/harness-report.js";

const SCENARIOS = ["100B c64", "16KiB c64"];
const TARGETS = ["direct", "nginx", "haproxy", "meshgate"];

function sample(rps: number, p99Ms: number, rssMb = Number.NaN, errors = 0): Sample {
  return { rps, p50Ms: p99Ms / 3, p99Ms, rssMb, errors, foreignCpu: 0 };
}

function samples(entries: [string, string, Sample[]][]): Map<string, Sample[]> {
  return new Map(entries.map(([scenario, target, list]) => [sampleKey(scenario, target), list]));
}

test("median takes the middle run, averages the middle two, and skips runs without figures", (t) => {
  t.is(median([30, 10, 20]), 20);
  t.is(median([40, 10, 20, 30]), 25);
  t.is(median([Number.NaN, 10, 30]), 20);
  t.true(Number.isNaN(median([Number.NaN])));
});

test("each row is compared with nginx and with direct from the same scenario", (t) => {
  const rows = summarise(
    ["100B c64"],
    ["direct", "nginx", "meshgate"],
    samples([
      ["100B c64", "direct", [sample(100_000, 1)]],
      ["100B c64", "nginx", [sample(50_000, 2), sample(54_000, 2), sample(52_000, 3)]],
      ["100B c64", "meshgate", [sample(31_200, 4, 100)]],
    ]),
    new Map(),
  );
  const [direct, nginx, meshgate] = rows;
  t.is(nginx?.rps, 52_000);
  t.is(nginx?.xNginx, 1);
  t.is(nginx?.xDirect, 0.52);
  t.is(meshgate?.xNginx, 0.6);
  t.is(meshgate?.xDirect, 0.312);
  t.is(direct?.xDirect, 1);
  t.is(nginx?.runs, 3);
});

test("a proxy that did not start gets its reason in its row, in every scenario", (t) => {
  const rows = summarise(
    SCENARIOS,
    TARGETS,
    samples([
      ["100B c64", "direct", [sample(100_000, 1)]],
      ["100B c64", "nginx", [sample(50_000, 2, 20)]],
      ["100B c64", "haproxy", [sample(49_000, 2, 20)]],
    ]),
    new Map([["meshgate", "failed to start (exit code 1: no listener)"]]),
  );
  const lines = formatTable(rows).split("\n");
  t.regex(lines[0] ?? "", /^scenario\s+target\s+rps\s+p50 ms\s+p99 ms\s+RSS MB\s+x nginx\s+x direct\s+errors$/);
  const failedRows = lines.filter((l) =>
    /^(100B|16KiB) c64 +meshgate +meshgate: failed to start \(exit code 1: no listener\)$/.test(l),
  );
  t.is(failedRows.length, 2);
  const haproxy = lines.find((l) => l.startsWith("100B c64") && l.includes("haproxy"));
  t.regex(haproxy ?? "", /haproxy\s+49000\s+0\.67\s+2\.00\s+20\s+0\.98\s+0\.49\s+0$/);
});

test("errors are summed over the runs, shown in the table and explained under it", (t) => {
  const withErrors: Sample = { ...sample(40_000, 5, 30, 12), problem: "non-2xx 0, socket errors read 12" };
  const rows = summarise(
    ["100B c256"],
    ["haproxy"],
    samples([["100B c256", "haproxy", [withErrors, sample(41_000, 5, 30, 0)]]]),
    new Map(),
  );
  t.is(rows[0]?.errors, 12);
  t.regex(formatTable(rows).split("\n")[1] ?? "", /\s12$/);
  t.deepEqual(formatNotes(rows), [
    "note: haproxy 100B c256: 12 errors over 2 run(s); its figures include failed requests",
    "note: haproxy 100B c256: run 1: non-2xx 0, socket errors read 12",
  ]);
});

test("a run where other processes took the proxy's core is flagged", (t) => {
  const rows = summarise(
    ["100B c64"],
    ["nginx", "haproxy"],
    samples([
      ["100B c64", "nginx", [{ ...sample(50_000, 2), foreignCpu: 0.04 }]],
      ["100B c64", "haproxy", [{ ...sample(30_000, 9), foreignCpu: 0.31 }]],
    ]),
    new Map(),
  );
  t.deepEqual(formatNotes(rows), [
    "note: haproxy 100B c64: other processes used 31% of the proxy's core (median over runs); " +
      "its figures are disturbed",
  ]);
});

test("targets pass at the limits and miss just beyond them", (t) => {
  const judge = (meshRps: number, meshP99: number, meshRss: number, processRps: number) =>
    checkTargets(
      summarise(
        ["100B c64", "16KiB c64"],
        ["nginx", "meshgate", "mg-threads", "mg-processes"],
        samples([
          ["100B c64", "nginx", [sample(50_000, 3, 20)]],
          ["100B c64", "meshgate", [sample(meshRps, meshP99, 100)]],
          ["16KiB c64", "meshgate", [sample(20_000, 9, meshRss)]],
          ["100B c64", "mg-threads", [sample(30_000, 6, 100)]],
          ["100B c64", "mg-processes", [sample(processRps, 6, 100)]],
        ]),
        new Map(),
      ),
      "100B c64",
    ).map((c) => c.verdict);
  t.deepEqual(judge(30_000, 6, 120, 29_100), ["PASS", "PASS", "PASS", "PASS"]);
  t.deepEqual(judge(29_999, 6.01, 121, 29_099), ["MISS", "MISS", "MISS", "MISS"]);
});

test("the targets line gives the measured ratio, p99s and peak RSS", (t) => {
  const rows = summarise(
    ["100B c64"],
    ["nginx", "meshgate"],
    samples([
      ["100B c64", "nginx", [sample(50_000, 2.5, 20)]],
      ["100B c64", "meshgate", [sample(26_000, 7.5, 109.6)]],
    ]),
    new Map(),
  );
  t.is(
    formatTargets(checkTargets(rows, "100B c64")),
    "targets: meshgate rps >= 0.6x nginx (100B c64): 0.52 MISS; p99 <= 2x nginx (100B c64): 3.00x " +
      "(7.50 vs 2.50 ms) MISS; RSS under load <= 120 MB (max over scenarios): 110 MB PASS; " +
      "process host rps >= 0.97x thread host (100B c64): - n/a",
  );
});

test("without meshgate figures the targets are not judged", (t) => {
  const rows = summarise(
    ["100B c64"],
    ["nginx", "meshgate"],
    samples([["100B c64", "nginx", [sample(50_000, 2.5, 20)]]]),
    new Map([["meshgate", "failed to start (timeout)"]]),
  );
  t.deepEqual(
    checkTargets(rows, "100B c64").map((c) => c.verdict),
    ["n/a", "n/a", "n/a", "n/a"],
  );
});
