// Samples -> medians, ratios, the printed table and the target verdicts. Pure.

export interface Sample {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  rssMb: number;
  errors: number;
  /** Share (0-1) of the proxy's core that other processes took during the run. */
  foreignCpu: number;
  /** Why this run has errors or no figures, e.g. "non-2xx 4, read 2" or wrk's own message. */
  problem?: string;
}

export interface Row {
  scenario: string;
  target: string;
  runs: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  rssMb: number;
  xNginx: number;
  xDirect: number;
  /** Summed over the measured runs. */
  errors: number;
  foreignCpu: number;
  /** Set when the target never started or stopped during the benchmark. */
  failure?: string;
  notes: string[];
}

/** Above this, another process competed with the proxy for its core and the figures say less. */
const FOREIGN_CPU_NOTE = 0.05;

/** INVALID: the figure exists, but the run was not shown to measure what the target is about. */
export type Verdict = "PASS" | "MISS" | "n/a" | "INVALID";

export interface TargetCheck {
  label: string;
  value: string;
  verdict: Verdict;
}

/** Median of the numbers that are not NaN (a run that gave no figures does not count as zero). */
export function median(values: number[]): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  const upper = v[mid] ?? Number.NaN;
  return v.length % 2 === 1 ? upper : ((v[mid - 1] ?? Number.NaN) + upper) / 2;
}

/** Targets in a different order each round, so no proxy always runs right after the same one. */
export function rotate<T>(items: T[], by: number): T[] {
  if (items.length === 0) return [];
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export function sampleKey(scenario: string, target: string): string {
  return `${scenario}|${target}`;
}

/** One row per scenario and target, in the order given; ratios against the same scenario's nginx
 * and direct medians. `failures` maps a target to why it did not (or no longer) run. */
export function summarise(
  scenarios: string[],
  targets: string[],
  samples: ReadonlyMap<string, Sample[]>,
  failures: ReadonlyMap<string, string>,
): Row[] {
  const rows: Row[] = [];
  for (const scenario of scenarios) {
    const of = (target: string) => samples.get(sampleKey(scenario, target)) ?? [];
    const medianOf = (target: string, pick: (s: Sample) => number) => median(of(target).map(pick));
    const nginxRps = medianOf("nginx", (s) => s.rps);
    const directRps = medianOf("direct", (s) => s.rps);
    for (const target of targets) {
      const runs = of(target);
      const rps = medianOf(target, (s) => s.rps);
      const row: Row = {
        scenario,
        target,
        runs: runs.length,
        rps,
        p50Ms: medianOf(target, (s) => s.p50Ms),
        p99Ms: medianOf(target, (s) => s.p99Ms),
        rssMb: medianOf(target, (s) => s.rssMb),
        xNginx: rps / nginxRps,
        xDirect: rps / directRps,
        errors: runs.reduce((sum, s) => sum + s.errors, 0),
        foreignCpu: medianOf(target, (s) => s.foreignCpu),
        notes: runs.flatMap((s, i) => (s.problem === undefined ? [] : [`run ${i + 1}: ${s.problem}`])),
      };
      const failure = failures.get(target);
      if (failure !== undefined) row.failure = failure;
      rows.push(row);
    }
  }
  return rows;
}

const HEADER = ["scenario", "target", "rps", "p50 ms", "p99 ms", "RSS MB", "x nginx", "x direct", "errors"];

function fixed(n: number, digits: number): string {
  return Number.isNaN(n) ? "-" : n.toFixed(digits);
}

function cells(row: Row): string[] {
  return [
    row.scenario,
    row.target,
    fixed(row.rps, 0),
    fixed(row.p50Ms, 2),
    fixed(row.p99Ms, 2),
    fixed(row.rssMb, 0),
    fixed(row.xNginx, 2),
    fixed(row.xDirect, 2),
    String(row.errors),
  ];
}

/** A target without a single measured run shows why in place of its figures. */
function hasFigures(row: Row): boolean {
  return row.failure === undefined || !Number.isNaN(row.rps);
}

export function formatTable(rows: Row[]): string {
  const table = rows.map((r) =>
    hasFigures(r) ? { cells: cells(r) } : { cells: [r.scenario, r.target], reason: `${r.target}: ${r.failure}` },
  );
  return alignTable(HEADER, table, new Set([0, 1]), { trimLines: false });
}

/** One table row: its cells, or for a row without figures its first cells and why. */
export interface TableLine {
  cells: string[];
  reason?: string;
}

/**
 * Columns padded to their widest cell, two spaces apart: text columns left-aligned, figures
 * right-aligned; a row with a reason gets it after its cells, on one line.
 */
export function alignTable(
  header: string[],
  rows: TableLine[],
  textColumns: ReadonlySet<number>,
  opts: { trimLines: boolean; reasonMax?: number },
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r.cells[i] ?? "").length)));
  const line = (c: string[]) => {
    const text = c
      .map((cell, i) => (textColumns.has(i) ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join("  ");
    return opts.trimLines ? text.trimEnd() : text;
  };
  const out = [line(header)];
  for (const row of rows) {
    const text = line(row.cells);
    out.push(row.reason === undefined ? text : `${text}  ${oneLine(row.reason, opts.reasonMax)}`);
  }
  return out.join("\n");
}

/** Whitespace folded to single spaces, cut at `max` characters. */
export function oneLine(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

/** Lines to print under the table: errors, runs without figures, disturbed runs, targets that
 * stopped mid-way. */
export function formatNotes(rows: Row[]): string[] {
  const notes: string[] = [];
  for (const r of rows) {
    const where = `${r.target} ${r.scenario}`;
    if (r.failure !== undefined && hasFigures(r)) notes.push(`note: ${where}: ${oneLine(r.failure)}`);
    if (r.errors > 0)
      notes.push(
        `note: ${where}: ${r.errors} errors over ${r.runs} run(s); its figures include failed requests`,
      );
    if (r.foreignCpu > FOREIGN_CPU_NOTE)
      notes.push(
        `note: ${where}: other processes used ${(r.foreignCpu * 100).toFixed(0)}% of the proxy's core ` +
          "(median over runs); its figures are disturbed",
      );
    for (const n of r.notes) notes.push(`note: ${where}: ${oneLine(n)}`);
  }
  return notes;
}

function find(rows: Row[], scenario: string, target: string): Row | undefined {
  return rows.find((r) => r.scenario === scenario && r.target === target);
}

function verdict(value: number, ok: (v: number) => boolean): Verdict {
  if (Number.isNaN(value)) return "n/a";
  return ok(value) ? "PASS" : "MISS";
}

/** The issue's targets for meshgate, judged at `scenario` (rps, p99) and over all scenarios (RSS). */
export function checkTargets(rows: Row[], scenario: string): TargetCheck[] {
  const mesh = find(rows, scenario, "meshgate");
  const nginx = find(rows, scenario, "nginx");
  const rpsRatio = mesh?.xNginx ?? Number.NaN;
  const meshP99 = mesh?.p99Ms ?? Number.NaN;
  const nginxP99 = nginx?.p99Ms ?? Number.NaN;
  const p99Ratio = meshP99 / nginxP99;
  const rss = rows.filter((r) => r.target === "meshgate" && !Number.isNaN(r.rssMb)).map((r) => r.rssMb);
  const maxRss = rss.length === 0 ? Number.NaN : Math.max(...rss);
  const threads = find(rows, scenario, "mg-threads")?.rps ?? Number.NaN;
  const processes = find(rows, scenario, "mg-processes")?.rps ?? Number.NaN;
  const hostRatio = processes / threads;
  return [
    {
      label: `meshgate rps >= 0.6x nginx (${scenario})`,
      value: fixed(rpsRatio, 2),
      verdict: verdict(rpsRatio, (v) => v >= 0.6),
    },
    {
      label: `p99 <= 2x nginx (${scenario})`,
      value: Number.isNaN(p99Ratio)
        ? "-"
        : `${p99Ratio.toFixed(2)}x (${fixed(meshP99, 2)} vs ${fixed(nginxP99, 2)} ms)`,
      verdict: verdict(p99Ratio, (v) => v <= 2),
    },
    {
      label: "RSS under load <= 120 MB (max over scenarios)",
      value: Number.isNaN(maxRss) ? "-" : `${maxRss.toFixed(0)} MB`,
      verdict: verdict(maxRss, (v) => v <= 120),
    },
    {
      label: `process host rps >= 0.97x thread host (${scenario})`,
      value: Number.isNaN(hostRatio) ? "-" : `${hostRatio.toFixed(3)} (${fixed(processes, 0)} vs ${fixed(threads, 0)})`,
      verdict: verdict(hostRatio, (v) => v >= 0.97),
    },
  ];
}

export function formatTargets(checks: TargetCheck[]): string {
  return `targets: ${checks.map((c) => `${c.label}: ${c.value} ${c.verdict}`).join("; ")}`;
}
