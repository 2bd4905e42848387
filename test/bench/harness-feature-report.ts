// The feature benchmark's samples -> one row per variant, its table, the checks that each variant
// did what it claims, and the target verdicts. Pure.
import type { Verification } from "./harness-feature-checks.js";
import { FEATURE_REFERENCE, type FeatureVariant } from "./harness-feature-configs.js";
import { alignTable, median, oneLine as foldLine, type Sample, type TargetCheck, type Verdict } from "./harness-report.js";

/** Check lines and failures are longer here (they list counters): cut at 300 characters. */
const FEATURE_LINE_MAX = 300;
const oneLine = (text: string): string => foldLine(text, FEATURE_LINE_MAX);

export interface FeatureSample extends Sample {
  /** Shares (0-1) of the proxy core that meshgate used, and of the load core that anything used. */
  ownCpu: number;
  loadCpu: number;
  verification: Verification;
}

export interface FeatureRow {
  scenario: string;
  variant: FeatureVariant;
  runs: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  rssMb: number;
  /** rps / the reference row's rps (medians). */
  xRef: number;
  /** p99 - the reference row's p99 (medians), in ms. */
  p99AddedMs: number;
  errors: number;
  foreignCpu: number;
  ownCpu: number;
  loadCpu: number;
  /** Microseconds of meshgate's CPU per request (ownCpu / rps): the fairer comparison when the
   * load core, not meshgate's, is the limit. */
  cpuUsPerReq: number;
  /** Runs whose counters showed the variant did what it claims; `runs` when all did. */
  verifiedRuns: number;
  /** One line per run: what was counted, and what was wrong. */
  checks: string[];
  failure?: string;
  notes: string[];
}

/** Above this, another process competed with the proxy for its core. */
const FOREIGN_CPU_NOTE = 0.05;
/** A load core this busy, under a proxy that is not, means the load side set the figure. */
const LOAD_BOUND = 0.9;

/** One row per variant, in the order given; ratios against FEATURE_REFERENCE. */
export function summariseFeatures(
  scenario: string,
  variants: readonly FeatureVariant[],
  samples: ReadonlyMap<FeatureVariant, FeatureSample[]>,
  failures: ReadonlyMap<FeatureVariant, string>,
): FeatureRow[] {
  const of = (v: FeatureVariant) => samples.get(v) ?? [];
  const medianOf = (v: FeatureVariant, pick: (s: Sample) => number) => median(of(v).map(pick));
  const refRps = medianOf(FEATURE_REFERENCE, (s) => s.rps);
  const refP99 = medianOf(FEATURE_REFERENCE, (s) => s.p99Ms);
  return variants.map((variant) => {
    const runs = of(variant);
    const rps = medianOf(variant, (s) => s.rps);
    const p99Ms = medianOf(variant, (s) => s.p99Ms);
    const ownCpu = median(runs.map((s) => s.ownCpu));
    const row: FeatureRow = {
      scenario,
      variant,
      runs: runs.length,
      rps,
      p50Ms: medianOf(variant, (s) => s.p50Ms),
      p99Ms,
      rssMb: medianOf(variant, (s) => s.rssMb),
      xRef: rps / refRps,
      p99AddedMs: p99Ms - refP99,
      errors: runs.reduce((sum, s) => sum + s.errors, 0),
      foreignCpu: medianOf(variant, (s) => s.foreignCpu),
      ownCpu,
      cpuUsPerReq: ownCpu > 0 ? (ownCpu / rps) * 1e6 : Number.NaN,
      loadCpu: median(runs.map((s) => s.loadCpu)),
      verifiedRuns: runs.filter((s) => s.verification.problems.length === 0).length,
      checks: runs.map((s, i) => {
        const { summary, problems } = s.verification;
        return `run ${i + 1}: ${summary}${problems.length === 0 ? "" : ` -- NOT AS CLAIMED: ${problems.join("; ")}`}`;
      }),
      notes: runs.flatMap((s, i) => (s.problem === undefined ? [] : [`run ${i + 1}: ${s.problem}`])),
    };
    const failure = failures.get(variant);
    if (failure !== undefined) row.failure = failure;
    return row;
  });
}

/** Every measured run of the row passed its check (and there was at least one). */
export function verified(row: FeatureRow): boolean {
  return row.runs > 0 && row.verifiedRuns === row.runs;
}

const HEADER = [
  "scenario",
  "variant",
  "rps",
  "p50 ms",
  "p99 ms",
  "p99 added ms",
  "RSS MB",
  "proxy cpu",
  "load cpu",
  "cpu us/req",
  `x ${FEATURE_REFERENCE}`,
  "errors",
  "verified",
];
const TEXT_COLUMNS = new Set([0, 1, 12]);

function fixed(n: number, digits: number): string {
  return Number.isNaN(n) ? "-" : n.toFixed(digits);
}

function percent(share: number): string {
  return Number.isNaN(share) ? "-" : `${(share * 100).toFixed(0)}%`;
}

function signed(n: number, digits: number): string {
  return Number.isNaN(n) ? "-" : `${n >= 0 ? "+" : ""}${n.toFixed(digits)}`;
}

function cells(row: FeatureRow): string[] {
  const reference = row.variant === FEATURE_REFERENCE;
  return [
    row.scenario,
    row.variant,
    fixed(row.rps, 0),
    fixed(row.p50Ms, 2),
    fixed(row.p99Ms, 2),
    reference ? "reference" : signed(row.p99AddedMs, 2),
    fixed(row.rssMb, 0),
    percent(row.ownCpu),
    percent(row.loadCpu),
    fixed(row.cpuUsPerReq, 0),
    reference ? "reference" : fixed(row.xRef, 2),
    String(row.errors),
    verified(row) ? "yes" : `NO (${row.verifiedRuns}/${row.runs} runs)`,
  ];
}

function hasFigures(row: FeatureRow): boolean {
  return row.failure === undefined || !Number.isNaN(row.rps);
}

export function formatFeatureTable(rows: FeatureRow[]): string {
  const table = rows.map((r) =>
    hasFigures(r) ? { cells: cells(r) } : { cells: [r.scenario, r.variant], reason: `${r.variant}: ${r.failure}` },
  );
  return alignTable(HEADER, table, TEXT_COLUMNS, { trimLines: true, reasonMax: FEATURE_LINE_MAX });
}

/** Under the table: what each run's counters showed, then failures, errors and disturbed runs. */
export function formatFeatureNotes(rows: FeatureRow[]): string[] {
  const lines: string[] = [];
  for (const r of rows) for (const c of r.checks) lines.push(`check: ${r.variant}: ${oneLine(c)}`);
  for (const r of rows) {
    const where = `${r.variant} ${r.scenario}`;
    if (r.failure !== undefined && hasFigures(r)) lines.push(`note: ${where}: ${oneLine(r.failure)}`);
    if (r.errors > 0)
      lines.push(`note: ${where}: ${r.errors} errors over ${r.runs} run(s); its figures include failed requests`);
    if (r.foreignCpu > FOREIGN_CPU_NOTE)
      lines.push(
        `note: ${where}: other processes used ${(r.foreignCpu * 100).toFixed(0)}% of the proxy's core ` +
          "(median over runs); its figures are disturbed",
      );
    if (r.loadCpu >= LOAD_BOUND && r.ownCpu < LOAD_BOUND)
      lines.push(
        `note: ${where}: the load core was ${percent(r.loadCpu)} busy while meshgate used ` +
          `${percent(r.ownCpu)} of its core: the load side (wrk, origins, Redis) set this figure`,
      );
    for (const n of r.notes) lines.push(`note: ${where}: ${oneLine(n)}`);
  }
  return lines;
}

/**
 * A figure from a variant that was not shown to do what it claims is not judged: it may have
 * measured something else (a limit answered from memory, copies skipped).
 */
function judge(row: FeatureRow | undefined, ref: FeatureRow | undefined, value: number, ok: boolean): Verdict {
  if (row === undefined || ref === undefined || Number.isNaN(value)) return "n/a";
  if (!verified(row) || !verified(ref)) return "INVALID";
  return ok ? "PASS" : "MISS";
}

function unverifiedNote(row: FeatureRow | undefined, ref: FeatureRow | undefined): string {
  const bad = [row, ref].filter((r): r is FeatureRow => r !== undefined && r.runs > 0 && !verified(r));
  return bad.length === 0 ? "" : ` (not verified: ${bad.map((r) => r.variant).join(", ")}; see the check lines)`;
}

/** The issue's targets: Global limit >= 0.85x and p99 added <= 1 ms; mirroring >= 0.6x. */
export function checkFeatureTargets(rows: FeatureRow[]): TargetCheck[] {
  const find = (v: FeatureVariant) => rows.find((r) => r.variant === v);
  const ref = find(FEATURE_REFERENCE);
  const global = find("global limit");
  const mirror = find("mirror 100%");
  const scenario = ref?.scenario ?? global?.scenario ?? "";
  const globalX = global?.xRef ?? Number.NaN;
  const globalAdded = global?.p99AddedMs ?? Number.NaN;
  const mirrorX = mirror?.xRef ?? Number.NaN;
  return [
    {
      label: `global limit rps >= 0.85x ${FEATURE_REFERENCE} (${scenario})`,
      value: fixed(globalX, 2) + unverifiedNote(global, ref),
      verdict: judge(global, ref, globalX, globalX >= 0.85),
    },
    {
      label: `global limit p99 added <= 1 ms (${scenario})`,
      value: Number.isNaN(globalAdded)
        ? "-"
        : `${signed(globalAdded, 2)} ms (${fixed(global?.p99Ms ?? Number.NaN, 2)} vs ${fixed(ref?.p99Ms ?? Number.NaN, 2)} ms)` +
          unverifiedNote(global, ref),
      verdict: judge(global, ref, globalAdded, globalAdded <= 1),
    },
    {
      label: `mirror 100% rps >= 0.6x ${FEATURE_REFERENCE} (${scenario})`,
      value: fixed(mirrorX, 2) + unverifiedNote(mirror, ref),
      verdict: judge(mirror, ref, mirrorX, mirrorX >= 0.6),
    },
  ];
}

export function formatFeatureTargets(checks: TargetCheck[]): string {
  return `feature targets: ${checks.map((c) => `${c.label}: ${c.value} ${c.verdict}`).join("; ")}`;
}
