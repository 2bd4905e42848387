// The TLS part of `npm run bench` (issue 3), with the HTTP part's pinning (proxies on the proxy
// core, origins and load generators on the load core) and method (interleaved rounds, medians):
// - new handshakes per second, a new connection per request: meshgate vs nginx, same certificate;
// - HTTPS keep-alive requests per second at 64 connections: meshgate vs nginx;
// - TLS passthrough MB/s over 8 connections: meshgate vs HAProxy in TCP mode;
// - the shared-port cost: meshgate's HTTPS keep-alive rps (and its handshakes per second) when
//   its port also has a TLS passthrough listener (every connection's ClientHello is read first)
//   against a port with HTTPS only.
// A proxy that does not start, or stops, gets its reason in its rows; the others still run.
import type { BenchPartOptions } from "./harness-targets.js";
import { type CoreUse, sampleCoreUse, sampleRss } from "./harness-probe.js";
import { rotate, sampleKey, type TargetCheck } from "./harness-report.js";
import { BENCH_HOST, PASS_HOST } from "./harness-tls-configs.js";
import { runHandshakes, runPump, runWrkTls } from "./harness-tls-load.js";
import {
  checkTlsTargets,
  formatCost,
  formatTlsNotes,
  formatTlsTable,
  formatTlsTargets,
  summariseTls,
  type TlsGoal,
  type TlsRow,
  type TlsRowSpec,
  type TlsSample,
} from "./harness-tls-report.js";
import {
  startHaproxyTcp,
  startMeshgateTls,
  startNginxTls,
  startTlsSource,
  type TlsFiles,
  type TlsTarget,
  writeTlsFiles,
} from "./harness-tls-targets.js";

export type TlsBenchOptions = BenchPartOptions;

export interface TlsBenchResult {
  /** Lines above the table: certificate, negotiated parameters, load generators. */
  header: string[];
  rows: TlsRow[];
  notes: string[];
  targets: TargetCheck[];
  /** The shared-port ratios, reported without a target. */
  costs: string[];
}

const HANDSHAKES = "handshakes c64";
const KEEPALIVE = "https 100B c64";
const PASSTHROUGH = "passthrough 8x64KiB";
const SCENARIOS = [HANDSHAKES, KEEPALIVE, PASSTHROUGH];
const CONNECTIONS = { [HANDSHAKES]: 64, [KEEPALIVE]: 64, [PASSTHROUGH]: 8 };
const SHARED = "meshgate shared port";
/** The Node load generators' measured window starts after this (process start, first handshakes). */
const SETTLE_S = 0.5;

type ProcName = "nginx-tls" | "meshgate-https" | "meshgate-shared" | "haproxy-tcp" | "meshgate-passthrough";
type Load = "handshakes" | "wrk" | "pump";

interface Measured {
  spec: TlsRowSpec;
  proc: ProcName;
  load: Load;
}

const MEASURED: Measured[] = [
  { spec: { scenario: HANDSHAKES, unit: "conn/s", target: "nginx" }, proc: "nginx-tls", load: "handshakes" },
  {
    spec: { scenario: HANDSHAKES, unit: "conn/s", target: "meshgate", ref: "nginx" },
    proc: "meshgate-https",
    load: "handshakes",
  },
  {
    spec: { scenario: HANDSHAKES, unit: "conn/s", target: SHARED, ref: "meshgate" },
    proc: "meshgate-shared",
    load: "handshakes",
  },
  { spec: { scenario: KEEPALIVE, unit: "req/s", target: "nginx" }, proc: "nginx-tls", load: "wrk" },
  {
    spec: { scenario: KEEPALIVE, unit: "req/s", target: "meshgate", ref: "nginx" },
    proc: "meshgate-https",
    load: "wrk",
  },
  {
    spec: { scenario: KEEPALIVE, unit: "req/s", target: SHARED, ref: "meshgate" },
    proc: "meshgate-shared",
    load: "wrk",
  },
  { spec: { scenario: PASSTHROUGH, unit: "MB/s", target: "haproxy" }, proc: "haproxy-tcp", load: "pump" },
  {
    spec: { scenario: PASSTHROUGH, unit: "MB/s", target: "meshgate", ref: "haproxy" },
    proc: "meshgate-passthrough",
    load: "pump",
  },
];

const GOALS: TlsGoal[] = [
  { scenario: HANDSHAKES, target: "meshgate", min: 0.8, what: "meshgate new handshakes/s" },
  { scenario: KEEPALIVE, target: "meshgate", min: 0.6, what: "meshgate https rps" },
  { scenario: PASSTHROUGH, target: "meshgate", min: 0.7, what: "meshgate passthrough MB/s" },
];

/** Procs that need the TLS origin: to measure through, or (shared) to prove the passthrough path. */
const NEEDS_SOURCE: ProcName[] = ["meshgate-shared", "haproxy-tcp", "meshgate-passthrough"];
/** Procs whose measurements stop being possible when the TLS origin stops. */
const MEASURES_SOURCE: ProcName[] = ["haproxy-tcp", "meshgate-passthrough"];

interface Started {
  targets: Map<ProcName, TlsTarget>;
  source?: TlsTarget;
  /** Why a proc has no (more) figures; every row measured on it shows this. */
  failures: Map<ProcName, string>;
}

async function startAll(opts: TlsBenchOptions, files: TlsFiles): Promise<Started> {
  const { env, proxyCore, loadCore, originPort, nodeFlags } = opts;
  const started: Started = { targets: new Map(), failures: new Map() };
  let sourceFailure = "";
  try {
    started.source = await startTlsSource(env, loadCore, files);
    console.error(`tls-source serving (${started.source.negotiated})`);
  } catch (err) {
    sourceFailure = (err as Error).message;
    console.error(`tls-source: failed to start (${sourceFailure})`);
  }
  const sourcePort = started.source?.port ?? 0;
  const ports = { origin: originPort, source: sourcePort };
  const starters: [ProcName, () => Promise<TlsTarget>][] = [
    ["nginx-tls", () => startNginxTls(env, proxyCore, originPort, files)],
    ["meshgate-https", () => startMeshgateTls(env, "https", proxyCore, ports, files, nodeFlags)],
    ["meshgate-shared", () => startMeshgateTls(env, "shared", proxyCore, ports, files, nodeFlags)],
    ["haproxy-tcp", () => startHaproxyTcp(env, proxyCore, sourcePort, files)],
    ["meshgate-passthrough", () => startMeshgateTls(env, "passthrough", proxyCore, ports, files, nodeFlags)],
  ];
  for (const [name, start] of starters) {
    if (opts.interrupted()) break;
    if (started.source === undefined && NEEDS_SOURCE.includes(name)) {
      started.failures.set(name, `failed to start (the TLS origin did not: ${sourceFailure})`);
      continue;
    }
    try {
      const target = await start();
      started.targets.set(name, target);
      console.error(`${name} serving (${target.negotiated})`);
    } catch (err) {
      const reason = (err as Error).message;
      started.failures.set(name, `failed to start (${reason})`);
      console.error(`${name}: failed to start (${reason})`);
    }
  }
  return started;
}

function noFigures(): TlsSample {
  const nan = Number.NaN;
  return { value: nan, p50Ms: nan, p99Ms: nan, rssMb: nan, errors: 0, ownCpu: nan, foreignCpu: nan, loadCpu: nan };
}

/** RSS and CPU of the proxy while `run` goes on. */
async function probed<T>(
  opts: TlsBenchOptions,
  target: TlsTarget,
  run: () => Promise<T>,
): Promise<{ out: T; rssMb: number; use: CoreUse }> {
  const rss = sampleRss(target.proc.pid);
  const cpu = sampleCoreUse(opts.proxyCore, opts.loadCore, target.proc.pid);
  const out = await run();
  return { out, use: cpu.stop(), rssMb: rss.stop() };
}

async function measure(opts: TlsBenchOptions, files: TlsFiles, m: Measured, target: TlsTarget): Promise<TlsSample> {
  const { env, loadCore, warmupS, durationS } = opts;
  const connections = CONNECTIONS[m.spec.scenario as keyof typeof CONNECTIONS];
  const sample = noFigures();
  const fill = (rssMb: number, use: CoreUse) => {
    sample.rssMb = rssMb;
    sample.ownCpu = use.own;
    sample.foreignCpu = use.foreign;
    sample.loadCpu = use.load;
  };
  if (m.load === "handshakes") {
    const run = {
      core: loadCore,
      host: BENCH_HOST,
      port: target.port,
      path: "/100",
      caFile: files.caFile,
      connections,
    };
    await runHandshakes(env.sup, { ...run, warmupS: 0, seconds: warmupS });
    const { out, rssMb, use } = await probed(opts, target, () =>
      runHandshakes(env.sup, { ...run, warmupS: SETTLE_S, seconds: durationS }),
    );
    fill(rssMb, use);
    const r = out.result;
    Object.assign(sample, { value: r.perS, p50Ms: r.p50Ms, p99Ms: r.p99Ms, errors: r.errors });
    if (r.problem !== undefined) sample.problem = r.problem;
  } else if (m.load === "wrk") {
    const run = {
      core: loadCore,
      host: BENCH_HOST,
      port: target.port,
      path: "/100",
      connections,
      script: files.wrkScript,
    };
    await runWrkTls(env.sup, { ...run, seconds: warmupS });
    const { out, rssMb, use } = await probed(opts, target, () => runWrkTls(env.sup, { ...run, seconds: durationS }));
    fill(rssMb, use);
    const r = out.result;
    Object.assign(sample, { value: r.rps, p50Ms: r.p50Ms, p99Ms: r.p99Ms, errors: r.errors });
    if (Number.isNaN(r.rps)) sample.problem = `no figures from wrk: ${out.output.trim().split("\n")[0] ?? ""}`;
    else if (r.errors > 0) {
      const s = r.socket;
      sample.problem =
        `non-2xx ${r.non2xx}, socket errors connect ${s.connect}, read ${s.read}, ` +
        `write ${s.write}, timeout ${s.timeout}`;
    }
  } else {
    const run = {
      core: loadCore,
      port: target.port,
      servername: PASS_HOST,
      caFile: files.caFile,
      connections,
    };
    await runPump(env.sup, { ...run, warmupS: 0, seconds: warmupS });
    const { out, rssMb, use } = await probed(opts, target, () =>
      runPump(env.sup, { ...run, warmupS: SETTLE_S, seconds: durationS }),
    );
    fill(rssMb, use);
    sample.value = out.result.mbPerS;
    sample.errors = out.result.errors;
    if (out.result.problem !== undefined) sample.problem = out.result.problem;
  }
  return sample;
}

function formatValue(sample: TlsSample, unit: string): string {
  if (Number.isNaN(sample.value)) return "no figures";
  const value = unit === "MB/s" ? sample.value.toFixed(1) : Math.round(sample.value).toString();
  const p99 = Number.isNaN(sample.p99Ms) ? "" : `, p99 ${sample.p99Ms.toFixed(2)} ms`;
  return `${value} ${unit}${p99}`;
}

function header(opts: TlsBenchOptions, started: Started, systemOpenssl: string): string[] {
  const negotiated = (name: ProcName) => started.targets.get(name)?.negotiated;
  const terminating = (["nginx-tls", "meshgate-https", "meshgate-shared"] as const)
    .flatMap((n) => {
      const tls = negotiated(n);
      return tls === undefined ? [] : [`${n} ${tls}`];
    })
    .join(", ");
  const passthrough = started.source?.negotiated ?? "-";
  return [
    `TLS: one ECDSA P-256 certificate for ${BENCH_HOST} (leaf + CA, the same files for nginx and meshgate), ` +
      `TLS settings left at each server's defaults; negotiated by the readiness probes: ${terminating || "-"}; ` +
      `passthrough, end to end: ${passthrough}`,
    `loads on core ${opts.loadCore}: ${HANDSHAKES}: tls-handshakes (node:tls), a new connection and a ` +
      "full handshake (no resumption) per HTTP/1.1 request, Connection: close, latency from connect to " +
      `close; ${KEEPALIVE}: wrk keep-alive over https; ${PASSTHROUGH}: tls-pump, 8 TLS connections ` +
      "reading a node:tls origin's 64 KiB writes (MB = 10^6 bytes). TLS libraries: system OpenSSL " +
      `${systemOpenssl} (nginx, HAProxy, wrk), node's OpenSSL ${process.versions.openssl} (tls-handshakes, ` +
      "tls-pump, tls-source)",
    `proxy cpu: the proxy's share of core ${opts.proxyCore}; load cpu: how busy core ${opts.loadCore} ` +
      "(origin and load generator) was; cpu us/op: proxy CPU per connection, request or MB; ratio: " +
      "against the row named; per proxy CPU: the same ratio per unit of proxy CPU (what it would be " +
      "if both proxies, not the load core, were the limit)",
  ];
}

/** Runs every TLS scenario; undefined when interrupted. */
export async function runTlsBench(
  opts: TlsBenchOptions,
  systemOpenssl: string,
): Promise<TlsBenchResult | undefined> {
  const files = await writeTlsFiles(opts.env.workDir);
  const started = await startAll(opts, files);
  const samples = new Map<string, TlsSample[]>();
  for (let round = 0; round < opts.rounds; round++) {
    for (const scenario of SCENARIOS) {
      for (const m of rotate(
        MEASURED.filter((x) => x.spec.scenario === scenario),
        round,
      )) {
        const target = started.targets.get(m.proc);
        if (target === undefined || started.failures.has(m.proc)) continue;
        const sample = await measure(opts, files, m, target);
        if (opts.interrupted()) return undefined;
        const ended = target.proc.exitReason();
        const where = `${scenario}, round ${round + 1}`;
        if (ended !== undefined) {
          started.failures.set(m.proc, `stopped during ${where} (${ended}: ${target.proc.logTail(1)})`);
          continue;
        }
        const key = sampleKey(scenario, m.spec.target);
        samples.set(key, [...(samples.get(key) ?? []), sample]);
        console.error(`round ${round + 1}/${opts.rounds} ${scenario} ${m.spec.target}: ${formatValue(sample, m.spec.unit)}`);
        const sourceEnded = m.load === "pump" ? started.source?.proc.exitReason() : undefined;
        if (sourceEnded !== undefined)
          for (const name of MEASURES_SOURCE)
            if (!started.failures.has(name)) started.failures.set(name, `the TLS origin stopped during ${where} (${sourceEnded})`);
      }
    }
  }
  const specs = MEASURED.map((m) => m.spec);
  const rowFailures = new Map<string, string>();
  for (const m of MEASURED) {
    const failure = started.failures.get(m.proc);
    if (failure !== undefined) rowFailures.set(sampleKey(m.spec.scenario, m.spec.target), failure);
  }
  const rows = summariseTls(specs, samples, rowFailures);
  return {
    header: header(opts, started, systemOpenssl),
    rows,
    notes: formatTlsNotes(rows),
    targets: checkTlsTargets(rows, GOALS),
    costs: [
      formatCost(rows, KEEPALIVE, SHARED, "shared-port cost"),
      formatCost(rows, HANDSHAKES, SHARED, "shared-port cost"),
    ],
  };
}

/** The TLS section of the printed report. */
export function formatTlsSection(result: TlsBenchResult): string[] {
  return [
    ...result.header,
    "",
    formatTlsTable(result.rows),
    ...(result.notes.length === 0 ? [] : ["", ...result.notes]),
    "",
    formatTlsTargets(result.targets),
    ...result.costs,
  ];
}
