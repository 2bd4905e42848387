// The TLS benchmark's samples -> medians, ratios, its table section and target verdicts. Pure.
// Unlike the HTTP table, scenarios measure different things (handshakes, requests, bytes), and
// each row names the row it is compared with.
import { alignTable, median, oneLine, sampleKey, type TargetCheck, type Verdict } from "./harness-report.js";

export type TlsUnit = "conn/s" | "req/s" | "MB/s";

export interface TlsSample {
  /** In the scenario's unit; NaN when the run gave no figures. */
  value: number;
  /** NaN where the load generator measures no latency (tls-pump). */
  p50Ms: number;
  p99Ms: number;
  rssMb: number;
  errors: number;
  /** Shares (0-1) of the proxy core used by the proxy and by other processes, and of the load
   * core used by anything. */
  ownCpu: number;
  foreignCpu: number;
  loadCpu: number;
  problem?: string;
}

export interface TlsRowSpec {
  scenario: string;
  unit: TlsUnit;
  target: string;
  /** The target in the same scenario this row is compared with. */
  ref?: string;
}

export interface TlsRow extends TlsRowSpec {
  runs: number;
  value: number;
  p50Ms: number;
  p99Ms: number;
  rssMb: number;
  ownCpu: number;
  foreignCpu: number;
  loadCpu: number;
  /** Microseconds of the proxy's CPU per unit of work (connection, request, MB). */
  cpuUsPerOp: number;
  /** value / the ref row's value; NaN without a ref or without figures. */
  xRef: number;
  /** The same ratio per unit of proxy CPU (work per CPU-second): what the ratio would be if both
   * proxies were limited by their own core, not by the load core. */
  xRefCpu: number;
  /** Summed over the measured runs. */
  errors: number;
  /** Set when the target never started or stopped during the benchmark. */
  failure?: string;
  notes: string[];
}

/** Above this, another process competed with the proxy for its core. */
const FOREIGN_CPU_NOTE = 0.05;
/** A load core this busy, under a proxy that is not, means the load side set the figure. */
const LOAD_BOUND = 0.9;

/** One row per spec, in order. `failures` is keyed by sampleKey(scenario, target). */
export function summariseTls(
  specs: TlsRowSpec[],
  samples: ReadonlyMap<string, TlsSample[]>,
  failures: ReadonlyMap<string, string>,
): TlsRow[] {
  const of = (scenario: string, target: string) => samples.get(sampleKey(scenario, target)) ?? [];
  const medianOf = (scenario: string, target: string, pick: (s: TlsSample) => number) =>
    median(of(scenario, target).map(pick));
  return specs.map((spec) => {
    const runs = of(spec.scenario, spec.target);
    const m = (pick: (s: TlsSample) => number) => medianOf(spec.scenario, spec.target, pick);
    const value = m((s) => s.value);
    const ownCpu = m((s) => s.ownCpu);
    const ref = (pick: (s: TlsSample) => number) =>
      spec.ref === undefined ? Number.NaN : medianOf(spec.scenario, spec.ref, pick);
    const refValue = ref((s) => s.value);
    const refOwnCpu = ref((s) => s.ownCpu);
    const row: TlsRow = {
      ...spec,
      runs: runs.length,
      value,
      p50Ms: m((s) => s.p50Ms),
      p99Ms: m((s) => s.p99Ms),
      rssMb: m((s) => s.rssMb),
      ownCpu,
      foreignCpu: m((s) => s.foreignCpu),
      loadCpu: m((s) => s.loadCpu),
      cpuUsPerOp: ownCpu > 0 ? (ownCpu / value) * 1e6 : Number.NaN,
      xRef: value / refValue,
      xRefCpu: ownCpu > 0 && refOwnCpu > 0 ? value / ownCpu / (refValue / refOwnCpu) : Number.NaN,
      errors: runs.reduce((sum, s) => sum + s.errors, 0),
      notes: runs.flatMap((s, i) => (s.problem === undefined ? [] : [`run ${i + 1}: ${s.problem}`])),
    };
    const failure = failures.get(sampleKey(spec.scenario, spec.target));
    if (failure !== undefined) row.failure = failure;
    return row;
  });
}

const HEADER = [
  "scenario",
  "target",
  "value",
  "unit",
  "p50 ms",
  "p99 ms",
  "RSS MB",
  "proxy cpu",
  "load cpu",
  "cpu us/op",
  "ratio",
  "errors",
];
/** Columns padded on the right (text); the rest are numbers, padded on the left. */
const TEXT_COLUMNS = new Set([0, 1, 3, 10]);

function fixed(n: number, digits: number): string {
  return Number.isNaN(n) ? "-" : n.toFixed(digits);
}

function percent(share: number): string {
  return Number.isNaN(share) ? "-" : `${(share * 100).toFixed(0)}%`;
}

function ratio(row: TlsRow, rows: TlsRow[]): string {
  if (row.ref !== undefined) return Number.isNaN(row.xRef) ? "-" : `${row.xRef.toFixed(2)}x ${row.ref}`;
  return rows.some((r) => r.scenario === row.scenario && r.ref === row.target) ? "reference" : "";
}

function cells(row: TlsRow, rows: TlsRow[]): string[] {
  return [
    row.scenario,
    row.target,
    fixed(row.value, row.unit === "MB/s" ? 1 : 0),
    row.unit,
    fixed(row.p50Ms, 2),
    fixed(row.p99Ms, 2),
    fixed(row.rssMb, 0),
    percent(row.ownCpu),
    percent(row.loadCpu),
    fixed(row.cpuUsPerOp, row.cpuUsPerOp < 10 ? 1 : 0),
    ratio(row, rows),
    String(row.errors),
  ];
}

function hasFigures(row: TlsRow): boolean {
  return row.failure === undefined || !Number.isNaN(row.value);
}

export function formatTlsTable(rows: TlsRow[]): string {
  const table = rows.map((r) =>
    hasFigures(r) ? { cells: cells(r, rows) } : { cells: [r.scenario, r.target], reason: `${r.target}: ${r.failure}` },
  );
  return alignTable(HEADER, table, TEXT_COLUMNS, { trimLines: true });
}

/** Lines under the TLS table: failures, errors, disturbed runs and load-bound figures. */
export function formatTlsNotes(rows: TlsRow[]): string[] {
  const notes: string[] = [];
  for (const r of rows) {
    const where = `${r.target} ${r.scenario}`;
    if (r.failure !== undefined && hasFigures(r)) notes.push(`note: ${where}: ${oneLine(r.failure)}`);
    if (r.errors > 0)
      notes.push(`note: ${where}: ${r.errors} errors over ${r.runs} run(s); its figures include failed work`);
    if (r.foreignCpu > FOREIGN_CPU_NOTE)
      notes.push(
        `note: ${where}: other processes used ${percent(r.foreignCpu)} of the proxy's core ` +
          "(median over runs); its figures are disturbed",
      );
    if (r.loadCpu >= LOAD_BOUND && r.ownCpu < LOAD_BOUND) {
      const referenced = rows.some((o) => o.scenario === r.scenario && o.ref === r.target);
      notes.push(
        `note: ${where}: the load core was ${percent(r.loadCpu)} busy while ${r.target} used ` +
          `${percent(r.ownCpu)} of its core: the load side set this figure, a lower bound for ${r.target}` +
          (referenced ? "; ratios against it are upper bounds" : ""),
      );
    }
    for (const n of r.notes) notes.push(`note: ${where}: ${oneLine(n)}`);
  }
  return notes;
}

export interface TlsGoal {
  scenario: string;
  target: string;
  /** The row's ref is the comparison; `min` is the least acceptable ratio. */
  min: number;
  /** What is compared, e.g. "meshgate handshakes/s". */
  what: string;
}

function verdict(value: number, ok: (v: number) => boolean): Verdict {
  if (Number.isNaN(value)) return "n/a";
  return ok(value) ? "PASS" : "MISS";
}

export function checkTlsTargets(rows: TlsRow[], goals: TlsGoal[]): TargetCheck[] {
  return goals.map((goal) => {
    const row = rows.find((r) => r.scenario === goal.scenario && r.target === goal.target);
    const x = row?.xRef ?? Number.NaN;
    const perCpu = row?.xRefCpu ?? Number.NaN;
    return {
      label: `${goal.what} >= ${goal.min}x ${row?.ref ?? "?"} (${goal.scenario})`,
      value: Number.isNaN(perCpu) ? fixed(x, 2) : `${fixed(x, 2)} (per proxy CPU ${perCpu.toFixed(2)})`,
      verdict: verdict(x, (v) => v >= goal.min),
    };
  });
}

export function formatTlsTargets(checks: TargetCheck[]): string {
  return `TLS targets: ${checks.map((c) => `${c.label}: ${c.value} ${c.verdict}`).join("; ")}`;
}

/** A ratio reported without a target: `target` against its ref row, with both figures. */
export function formatCost(rows: TlsRow[], scenario: string, target: string, what: string): string {
  const row = rows.find((r) => r.scenario === scenario && r.target === target);
  const ref = rows.find((r) => r.scenario === scenario && r.target === row?.ref);
  if (row === undefined || ref === undefined || Number.isNaN(row.xRef))
    return `${what} (no target, ${scenario}): - (${row?.failure ?? ref?.failure ?? "no figures"})`.replace(
      /\s+/g,
      " ",
    );
  const digits = row.unit === "MB/s" ? 1 : 0;
  return (
    `${what} (no target, ${scenario}): ${row.target} / ${ref.target} = ${row.xRef.toFixed(2)} ` +
    `(${row.value.toFixed(digits)} vs ${ref.value.toFixed(digits)} ${row.unit}` +
    (Number.isNaN(row.xRefCpu) ? ")" : `; per proxy CPU ${row.xRefCpu.toFixed(2)})`)
  );
}
