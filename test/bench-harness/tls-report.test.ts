import test from "ava";
import { rotate, sampleKey } from "../bench/harness-report.js";
import {
  checkTlsTargets,
  formatCost,
  formatTlsNotes,
  formatTlsTable,
  formatTlsTargets,
  summariseTls,
  type TlsRowSpec,
  type TlsSample,
} from "../bench/harness-tls-report.js";

const HS = "handshakes c64";
const KA = "https 100B c64";
const PT = "passthrough 8x64KiB";

const SPECS: TlsRowSpec[] = [
  { scenario: HS, unit: "conn/s", target: "nginx" },
  { scenario: HS, unit: "conn/s", target: "meshgate", ref: "nginx" },
  { scenario: KA, unit: "req/s", target: "nginx" },
  { scenario: KA, unit: "req/s", target: "meshgate", ref: "nginx" },
  { scenario: KA, unit: "req/s", target: "meshgate shared port", ref: "meshgate" },
  { scenario: PT, unit: "MB/s", target: "haproxy" },
  { scenario: PT, unit: "MB/s", target: "meshgate", ref: "haproxy" },
];

function sample(value: number, ownCpu: number, extra: Partial<TlsSample> = {}): TlsSample {
  return {
    value,
    p50Ms: 1,
    p99Ms: 4,
    rssMb: 20,
    errors: 0,
    ownCpu,
    foreignCpu: 0,
    loadCpu: 0.5,
    ...extra,
  };
}

function samples(entries: [string, string, TlsSample[]][]): Map<string, TlsSample[]> {
  return new Map(entries.map(([scenario, target, list]) => [sampleKey(scenario, target), list]));
}

test("rows take medians and compare with the row they name, by figure and per proxy CPU", (t) => {
  const rows = summariseTls(
    SPECS.slice(2, 5),
    samples([
      [KA, "nginx", [sample(40_000, 1), sample(44_000, 1), sample(42_000, 1)]],
      [KA, "meshgate", [sample(21_000, 0.5)]],
      [KA, "meshgate shared port", [sample(10_500, 0.5)]],
    ]),
    new Map(),
  );
  const [nginx, meshgate, shared] = rows;
  t.is(nginx?.value, 42_000);
  t.is(nginx?.runs, 3);
  t.true(Number.isNaN(nginx?.xRef ?? 0));
  t.is(meshgate?.xRef, 0.5);
  // Half the requests on half the CPU: the same cost per request.
  t.is(meshgate?.xRefCpu, 1);
  t.is(Math.round(meshgate?.cpuUsPerOp ?? 0), 24);
  t.is(shared?.xRef, 0.5);
  t.is(shared?.xRefCpu, 0.5);
});

test("the table names each row's reference, gives units and CPU per unit of work", (t) => {
  const rows = summariseTls(
    SPECS,
    samples([
      [HS, "nginx", [sample(1000, 0.5, { loadCpu: 0.97 })]],
      [HS, "meshgate", [sample(850, 0.6, { loadCpu: 0.98 })]],
      [KA, "nginx", [sample(40_000, 0.8)]],
      [KA, "meshgate", [sample(30_000, 1)]],
      [KA, "meshgate shared port", [sample(24_000, 1)]],
      [PT, "haproxy", [sample(1200.44, 0.3, { p50Ms: Number.NaN, p99Ms: Number.NaN })]],
      [PT, "meshgate", [sample(900, 0.6, { p50Ms: Number.NaN, p99Ms: Number.NaN })]],
    ]),
    new Map(),
  );
  const lines = formatTlsTable(rows).split("\n");
  t.regex(
    lines[0] ?? "",
    /^scenario\s+target\s+value\s+unit\s+p50 ms\s+p99 ms\s+RSS MB\s+proxy cpu\s+load cpu\s+cpu us\/op\s+ratio\s+errors$/,
  );
  t.regex(lines[1] ?? "", /^handshakes c64\s+nginx\s+1000\s+conn\/s\s+1\.00\s+4\.00\s+20\s+50%\s+97%\s+500\s+reference\s+0$/);
  t.regex(lines[2] ?? "", /meshgate\s+850\s+conn\/s .* 60%\s+98%\s+706\s+0\.85x nginx\s+0$/);
  t.regex(lines[5] ?? "", /meshgate shared port\s+24000\s+req\/s .* 0\.80x meshgate\s+0$/);
  t.regex(lines[6] ?? "", /^passthrough 8x64KiB\s+haproxy\s+1200\.4\s+MB\/s\s+-\s+-\s+20\s+30%\s+50%\s+250\s+reference/);
  // The keep-alive nginx row is referenced by meshgate only; its cost per request is small.
  t.regex(lines[3] ?? "", /nginx\s+40000\s+req\/s .* 80%\s+50%\s+20\s+reference/);
});

test("a target that did not start shows its reason in place of figures; the others still compare", (t) => {
  const failures = new Map([
    [sampleKey(PT, "meshgate"), "failed to start (TLS for pass.example.com through port 1 not within 20 s)"],
  ]);
  const rows = summariseTls(SPECS.slice(5), samples([[PT, "haproxy", [sample(1200, 0.3)]]]), failures);
  const lines = formatTlsTable(rows).split("\n");
  t.regex(
    lines[2] ?? "",
    /^passthrough 8x64KiB\s+meshgate\s+meshgate: failed to start \(TLS for pass\.example\.com through port 1 not within 20 s\)$/,
  );
  t.regex(lines[1] ?? "", /haproxy\s+1200\.0\s+MB\/s/);
  const checks = checkTlsTargets(rows, [{ scenario: PT, target: "meshgate", min: 0.7, what: "meshgate passthrough MB/s" }]);
  t.deepEqual(checks, [
    { label: "meshgate passthrough MB/s >= 0.7x haproxy (passthrough 8x64KiB)", value: "-", verdict: "n/a" },
  ]);
  // No figures at all: the failure is in the table, not repeated as a note.
  t.deepEqual(formatTlsNotes(rows), []);
});

test("targets pass at the limit and miss just below it, with the per-CPU ratio beside", (t) => {
  const judge = (meshValue: number) =>
    checkTlsTargets(
      summariseTls(
        SPECS.slice(0, 2),
        samples([
          [HS, "nginx", [sample(1000, 0.5)]],
          [HS, "meshgate", [sample(meshValue, 0.5)]],
        ]),
        new Map(),
      ),
      [{ scenario: HS, target: "meshgate", min: 0.8, what: "meshgate new handshakes/s" }],
    );
  t.is(judge(800)[0]?.verdict, "PASS");
  t.is(judge(799)[0]?.verdict, "MISS");
  t.is(
    formatTlsTargets(judge(800)),
    "TLS targets: meshgate new handshakes/s >= 0.8x nginx (handshakes c64): 0.80 (per proxy CPU 0.80) PASS",
  );
});

test("notes flag errors, a busy proxy core, and figures the load core set", (t) => {
  const rows = summariseTls(
    SPECS.slice(0, 2),
    samples([
      [HS, "nginx", [sample(1000, 0.3, { loadCpu: 0.99 })]],
      [
        HS,
        "meshgate",
        [
          sample(900, 0.95, { loadCpu: 0.99, foreignCpu: 0.2, errors: 3, problem: "3 failed (first: status 502)" }),
        ],
      ],
    ]),
    new Map([[sampleKey(HS, "meshgate"), "stopped during https 100B c64, round 2 (exit code 1: boom)"]]),
  );
  t.deepEqual(formatTlsNotes(rows), [
    "note: nginx handshakes c64: the load core was 99% busy while nginx used 30% of its core: the load side " +
      "set this figure, a lower bound for nginx; ratios against it are upper bounds",
    "note: meshgate handshakes c64: stopped during https 100B c64, round 2 (exit code 1: boom)",
    "note: meshgate handshakes c64: 3 errors over 1 run(s); its figures include failed work",
    "note: meshgate handshakes c64: other processes used 20% of the proxy's core (median over runs); its " +
      "figures are disturbed",
    "note: meshgate handshakes c64: run 1: 3 failed (first: status 502)",
  ]);
});

test("the shared-port cost is a plain ratio with both figures, or says why it is missing", (t) => {
  const rows = summariseTls(
    SPECS.slice(2, 5),
    samples([
      [KA, "meshgate", [sample(30_000, 1)]],
      [KA, "meshgate shared port", [sample(24_000, 1)]],
    ]),
    new Map(),
  );
  t.is(
    formatCost(rows, KA, "meshgate shared port", "shared-port cost"),
    "shared-port cost (no target, https 100B c64): meshgate shared port / meshgate = 0.80 " +
      "(24000 vs 30000 req/s; per proxy CPU 0.80)",
  );
  const failed = summariseTls(
    SPECS.slice(2, 5),
    samples([[KA, "meshgate", [sample(30_000, 1)]]]),
    new Map([[sampleKey(KA, "meshgate shared port"), "failed to start (exit code 1)"]]),
  );
  t.is(
    formatCost(failed, KA, "meshgate shared port", "shared-port cost"),
    "shared-port cost (no target, https 100B c64): - (failed to start (exit code 1))",
  );
});

test("rotate starts each round one further along and copes with empty lists", (t) => {
  t.deepEqual(rotate(["a", "b", "c"], 0), ["a", "b", "c"]);
  t.deepEqual(rotate(["a", "b", "c"], 1), ["b", "c", "a"]);
  t.deepEqual(rotate(["a", "b", "c"], 4), ["b", "c", "a"]);
  t.deepEqual(rotate([], 2), []);
});
