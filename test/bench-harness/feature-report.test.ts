import test from "ava";
import type { Verification } from "../bench/harness-feature-checks.js";
import { FEATURE_VARIANTS, type FeatureVariant } from "../bench/harness-feature-configs.js";
import {
  checkFeatureTargets,
  type FeatureSample,
  formatFeatureNotes,
  formatFeatureTable,
  formatFeatureTargets,
  summariseFeatures,
} from "../bench/harness-feature-report.js";

const OK: Verification = { summary: "counted", problems: [] };

function sample(rps: number, p99Ms: number, verification = OK, errors = 0): FeatureSample {
  return { rps, p50Ms: p99Ms / 4, p99Ms, rssMb: 100, errors, foreignCpu: 0, ownCpu: 0.98, loadCpu: 0.8, verification };
}

function rowsOf(entries: [FeatureVariant, FeatureSample[]][], failures = new Map<FeatureVariant, string>()) {
  return summariseFeatures("100B c64", FEATURE_VARIANTS, new Map(entries), failures);
}

const BASE: [FeatureVariant, FeatureSample[]][] = [
  ["meshgate", [sample(30_000, 4), sample(32_000, 5), sample(31_000, 4.5)]],
  ["global limit", [sample(26_350, 5.5)]],
  ["local limit", [sample(30_000, 4.6)]],
  ["mirror 100%", [sample(18_600, 7)]],
];

test("each variant is compared with the no-policy medians: rps ratio and p99 added", (t) => {
  const [ref, global, , mirror] = rowsOf(BASE);
  t.is(ref?.rps, 31_000);
  t.is(ref?.p99Ms, 4.5);
  t.is(global?.xRef, 0.85);
  t.is(global?.p99AddedMs, 1);
  t.is(mirror?.xRef, 0.6);
  t.is(ref?.runs, 3);
  t.is(ref?.verifiedRuns, 3);
});

test("the table has one row per variant, the reference marked, and whether each was verified", (t) => {
  const lines = formatFeatureTable(rowsOf(BASE)).split("\n");
  t.regex(
    lines[0] ?? "",
    /^scenario\s+variant\s+rps\s+p50 ms\s+p99 ms\s+p99 added ms\s+RSS MB\s+proxy cpu\s+load cpu\s+cpu us\/req\s+x meshgate\s+errors\s+verified$/,
  );
  t.regex(lines[1] ?? "", /^100B c64 +meshgate +31000 +1\.13 +4\.50 +reference +100 +98% +80% +32 +reference +0 +yes$/);
  t.regex(lines[2] ?? "", /^100B c64 +global limit +26350 +1\.38 +5\.50 +\+1\.00 +100 +98% +80% +37 +0\.85 +0 +yes$/);
  t.regex(lines[3] ?? "", /^100B c64 +local limit +30000 .* \+0\.10 .* 0\.97 +0 +yes$/);
  t.is(lines.length, 5);
});

test("targets pass at their limits and miss just beyond them", (t) => {
  t.deepEqual(
    checkFeatureTargets(rowsOf(BASE)).map((c) => c.verdict),
    ["PASS", "PASS", "PASS"],
  );
  const beyond = rowsOf([
    ["meshgate", [sample(31_000, 4.5)]],
    ["global limit", [sample(26_349, 5.51)]],
    ["mirror 100%", [sample(18_599, 7)]],
  ]);
  t.deepEqual(
    checkFeatureTargets(beyond).map((c) => c.verdict),
    ["MISS", "MISS", "MISS"],
  );
  t.is(
    formatFeatureTargets(checkFeatureTargets(beyond)),
    "feature targets: global limit rps >= 0.85x meshgate (100B c64): 0.85 MISS; global limit p99 added <= 1 ms " +
      "(100B c64): +1.01 ms (5.51 vs 4.50 ms) MISS; mirror 100% rps >= 0.6x meshgate (100B c64): 0.60 MISS",
  );
});

test("a variant whose counters did not account for the load is shown as not verified and its targets are INVALID", (t) => {
  const skipped: Verification = { summary: "copies sent +6000", problems: ["copies skipped: 4000"] };
  const rows = rowsOf([
    ["meshgate", [sample(31_000, 4.5)]],
    ["global limit", [sample(30_000, 4.6)]],
    ["mirror 100%", [sample(30_000, 4.6, skipped), sample(29_000, 4.6)]],
  ]);
  const checks = checkFeatureTargets(rows);
  t.deepEqual(
    checks.map((c) => c.verdict),
    ["PASS", "PASS", "INVALID"],
  );
  t.is(checks[2]?.value, "0.95 (not verified: mirror 100%; see the check lines)");
  t.regex(formatFeatureTable(rows).split("\n")[4] ?? "", /NO \(1\/2 runs\)$/);
  t.true(
    formatFeatureNotes(rows).includes(
      "check: mirror 100%: run 1: copies sent +6000 -- NOT AS CLAIMED: copies skipped: 4000",
    ),
  );
});

test("an unverified reference invalidates every comparison", (t) => {
  const wrong: Verification = { summary: "x", problems: ["mirror copies without a mirror: 5"] };
  const rows = rowsOf([...BASE.slice(1), ["meshgate", [sample(31_000, 4.5, wrong)]]]);
  t.deepEqual(
    checkFeatureTargets(rows).map((c) => c.verdict),
    ["INVALID", "INVALID", "INVALID"],
  );
});

test("a variant that did not start shows why; its targets are not judged", (t) => {
  const rows = rowsOf(
    [["meshgate", [sample(31_000, 4.5)]]],
    new Map([["global limit", "failed to start (Redis did not: exit code 1)"]]),
  );
  const line = formatFeatureTable(rows).split("\n")[2] ?? "";
  t.regex(line, /^100B c64 +global limit +global limit: failed to start \(Redis did not: exit code 1\)$/);
  t.deepEqual(
    checkFeatureTargets(rows).map((c) => c.verdict),
    ["n/a", "n/a", "n/a"],
  );
});

test("errors, a disturbed core and a load-bound figure are noted under the check lines", (t) => {
  const rows = rowsOf([
    ["meshgate", [{ ...sample(31_000, 4.5), foreignCpu: 0.3 }]],
    ["local limit", [{ ...sample(30_000, 4.6, OK, 3), problem: "non-2xx 3" }]],
    ["mirror 100%", [{ ...sample(20_000, 6), ownCpu: 0.6, loadCpu: 0.97 }]],
  ]);
  t.deepEqual(formatFeatureNotes(rows), [
    "check: meshgate: run 1: counted",
    "check: local limit: run 1: counted",
    "check: mirror 100%: run 1: counted",
    "note: meshgate 100B c64: other processes used 30% of the proxy's core (median over runs); its figures are disturbed",
    "note: local limit 100B c64: 3 errors over 1 run(s); its figures include failed requests",
    "note: local limit 100B c64: run 1: non-2xx 3",
    "note: mirror 100% 100B c64: the load core was 97% busy while meshgate used 60% of its core: the load " +
      "side (wrk, origins, Redis) set this figure",
  ]);
});
