// The apply part of `npm run bench` (BENCH_ONLY=apply): what applying a big configuration costs
// traffic. Per round a fresh `meshgate standalone --workers 1` on the proxy core, serving one
// steady route to the nginx origin, takes 1,000 then 5,000 generated HTTPRoutes
// (test/support/big-config.ts) while the harness, on the load core, keeps requesting the steady
// route on two keep-alive connections and admin /ready on a third (test/support/apply-probe.ts).
// Printed per size, medians over rounds (and the worst round for the stall): the time until a new
// route serves, the longest any steady request waited, the same before the write (the client and
// machine alone), the longest admin wait, and the gateway's RSS before, at peak, after, and once
// idle (3 s later).
import { type ApplyFigures, measureApply, rssMib, writeAtomically } from "../support/apply-probe.js";
import { bigConfig, probeOf, STEADY_HOST } from "../support/big-config.js";
import { freePort } from "../support/net.js";
import { sampleForeignCpu } from "./harness-probe.js";
import { type BenchPartOptions, meshgateServing, spawnMeshgate } from "./harness-targets.js";
import { join } from "node:path";

/** The target of issue 11: no request held up longer than this by an apply. */
export const STALL_TARGET_MS = 50;
const SIZES = [1000, 5000] as const;
/** RSS once the gateway has been idle this long after an apply. */
const IDLE_WAIT_MS = 3000;

interface ApplySample extends ApplyFigures {
  rssIdleMb: number;
  foreignCpu: number;
}

export interface ApplyRow {
  routes: number;
  runs: number;
  applyMs: number;
  stallMs: number;
  worstStallMs: number;
  /** When the worst round's longest-waiting request was sent, ms after the write. */
  worstStallAtMs: number;
  baselineStallMs: number;
  adminMs: number;
  rssBeforeMb: number;
  rssPeakMb: number;
  rssAfterMb: number;
  rssIdleMb: number;
  foreignCpu: number;
  failures: number;
}

export interface ApplyBenchResult {
  rows: ApplyRow[];
  notes: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Extra meshgate flags for this part (BENCH_APPLY_ARGS), e.g. `--worker-mode processes`. */
// Without it, one local event loop, as this part has always measured (the default host is a worker process).
const APPLY_ARGS = (process.env["BENCH_APPLY_ARGS"] ?? "--worker-mode local").split(/\s+/).filter((a) => a !== "");

async function oneRound(opts: BenchPartOptions, round: number, samples: Map<number, ApplySample[]>, notes: string[]) {
  const port = await freePort();
  const config = (routes: number, generation: number) =>
    bigConfig({ port, backendPort: opts.originPort, routes, generation, seed: generation });
  const name = `meshgate-apply-${round}`;
  const { proc, adminPort } = await spawnMeshgate(opts.env, name, opts.proxyCore, config(0, 0), opts.nodeFlags, APPLY_ARGS);
  const file = join(opts.env.workDir, `${name}-config`, "bench.yaml");
  try {
    await meshgateServing(proc, adminPort, async () => {});
    for (const [i, routes] of SIZES.entries()) {
      if (opts.interrupted()) return;
      const generation = round * SIZES.length + i + 1;
      const text = config(routes, generation);
      const foreign = sampleForeignCpu(opts.proxyCore, proc.pid);
      const f = await measureApply({
        pid: proc.pid,
        port,
        adminPort,
        steadyHost: STEADY_HOST,
        steadyPath: "/100",
        write: () => writeAtomically(file, text),
        probe: probeOf(routes - 1, { generation }),
      });
      const foreignCpu = foreign.stop();
      await sleep(IDLE_WAIT_MS);
      const sample: ApplySample = { ...f, rssIdleMb: rssMib(proc.pid), foreignCpu };
      samples.set(routes, [...(samples.get(routes) ?? []), sample]);
      if (f.failures > 0) notes.push(`round ${round + 1}, ${routes} routes: ${f.failures} steady requests not 200`);
      if (Number.isNaN(f.applyMs)) notes.push(`round ${round + 1}, ${routes} routes: the new routes never served`);
      console.error(
        `apply round ${round + 1}/${opts.rounds} ${routes} routes: apply ${f.applyMs.toFixed(0)} ms, ` +
          `longest stall ${f.longestStallMs.toFixed(0)} ms, RSS ${f.rssBeforeMb.toFixed(0)} -> ${f.rssAfterMb.toFixed(0)} MiB`,
      );
    }
  } finally {
    // This round's gateway only (by its pid); the Supervisor reaps it and stops the rest at the end.
    if (proc.exitReason() === undefined) process.kill(proc.pid, "SIGTERM");
    await proc.exited;
  }
}

export async function runApplyBench(opts: BenchPartOptions): Promise<ApplyBenchResult | undefined> {
  const samples = new Map<number, ApplySample[]>();
  const notes: string[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    await oneRound(opts, round, samples, notes);
    if (opts.interrupted()) return undefined;
  }
  const rows = SIZES.map((routes): ApplyRow => {
    const s = samples.get(routes) ?? [];
    const m = (pick: (x: ApplySample) => number) => median(s.map(pick));
    return {
      routes,
      runs: s.length,
      applyMs: m((x) => x.applyMs),
      stallMs: m((x) => x.longestStallMs),
      worstStallMs: Math.max(...s.map((x) => x.longestStallMs)),
      worstStallAtMs: s.reduce((w, x) => (x.longestStallMs > w.longestStallMs ? x : w), s[0] as ApplySample)
        ?.longestStallAtMs ?? Number.NaN,
      baselineStallMs: m((x) => x.baselineStallMs),
      adminMs: m((x) => x.longestAdminMs),
      rssBeforeMb: m((x) => x.rssBeforeMb),
      rssPeakMb: m((x) => x.rssPeakMb),
      rssAfterMb: m((x) => x.rssAfterMb),
      rssIdleMb: m((x) => x.rssIdleMb),
      foreignCpu: m((x) => x.foreignCpu),
      failures: s.reduce((n, x) => n + x.failures, 0),
    };
  });
  for (const r of rows) {
    if (r.foreignCpu > 0.05)
      notes.push(`${r.routes} routes: other processes took ${(r.foreignCpu * 100).toFixed(0)}% of the gateway's core`);
  }
  return { rows, notes };
}

export function formatApplySection(result: ApplyBenchResult): string[] {
  const n = (x: number) => (Number.isNaN(x) ? "n/a" : x.toFixed(0));
  const header = [
    "routes",
    "runs",
    "apply ms",
    "stall ms",
    "worst stall",
    "at ms",
    "stall before",
    "admin ms",
    "RSS before",
    "RSS peak",
    "RSS after",
    "RSS idle",
    "failures",
  ];
  const lines = result.rows.map((r) =>
    [
      String(r.routes),
      String(r.runs),
      n(r.applyMs),
      n(r.stallMs),
      n(r.worstStallMs),
      n(r.worstStallAtMs),
      n(r.baselineStallMs),
      n(r.adminMs),
      n(r.rssBeforeMb),
      n(r.rssPeakMb),
      n(r.rssAfterMb),
      n(r.rssIdleMb),
      String(r.failures),
    ].join(" | "),
  );
  const worst = Math.max(...result.rows.map((r) => r.worstStallMs));
  const verdict = Number.isNaN(worst) || result.rows.some((r) => r.runs === 0) ? "n/a" : worst <= STALL_TARGET_MS ? "PASS" : "MISS";
  return [
    `apply: a fresh meshgate --workers 1${APPLY_ARGS.map((a) => ` ${a}`).join("")} per round takes 1,000 then 5,000 HTTPRoutes while requests flow; ` +
      "apply = file write to first 200 of a new route (includes the 100 ms folder debounce); stall = longest a " +
      "steady request waited (medians; worst = worst round, at = when that request was sent after the write); " +
      "RSS in MiB (idle: 3 s after the apply)",
    "",
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...lines.map((l) => `| ${l} |`),
    ...(result.notes.length === 0 ? [] : ["", ...result.notes]),
    "",
    `target: no request stalled more than ${STALL_TARGET_MS} ms by an apply (worst round, both sizes): ${n(worst)} ms ${verdict}`,
  ];
}
