// `npm run bench`: meshgate against nginx-as-proxy and HAProxy, each with one worker on one core,
// in front of the same nginx origin, driven by wrk over loopback; then the TLS part (tls-bench.ts:
// handshakes, HTTPS keep-alive, passthrough, shared-port cost); then the feature part
// (features-bench.ts: a Global limit in Redis, a Local limit and a 100% mirror against no policy);
// the apply part; and the controller part (controller-bench.ts: 1,000 HTTPRoutes on a real API server).
// Prints one report: the HTTP table and its targets, the TLS table and its targets, the feature
// table and its targets.
//
// Environment: BENCH_RUNS (rounds, default 3), BENCH_DURATION (seconds per measured run, default
// 10), BENCH_QUICK=1 (one round of 3 s, for development), BENCH_ONLY=http, tls, features, apply or controller
// (one part only), MESHGATE_NODE_FLAGS (node flags for meshgate, e.g. "--max-semi-space-size=64").
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sampleForeignCpu, sampleRss } from "./harness-probe.js";
import { Supervisor } from "./harness-procs.js";
import {
  checkTargets,
  formatNotes,
  formatTable,
  formatTargets,
  rotate,
  type Row,
  type Sample,
  sampleKey,
  summarise,
  type TargetCheck,
} from "./harness-report.js";
import {
  type BenchEnv,
  type BenchPartOptions,
  startHaproxy,
  startMeshgate,
  startNginxProxy,
  startOrigin,
  type Target,
} from "./harness-targets.js";
import { describeMachine, ensureTools, formatMachine } from "./harness-tools.js";
import { runWrk, wrkProblem } from "./harness-wrk.js";
import { type FeatureBenchResult, formatFeatureSection, runFeaturesBench } from "./features-bench.js";
import { formatTlsSection, runTlsBench, type TlsBenchResult } from "./tls-bench.js";
import { type ApplyBenchResult, formatApplySection, runApplyBench } from "./apply-bench.js";
import { type ControllerBenchResult, formatControllerSection, runControllerBench } from "./controller-bench.js";

// The proxy under test has a core to itself; the origin and wrk share the other, so every proxy
// meets the same load generator and the same origin.
const PROXY_CORE = 0;
const LOAD_CORE = 1;
const WARMUP_S = 2;

const SCENARIOS = [
  { name: "100B c64", path: "/100", connections: 64 },
  { name: "100B c256", path: "/100", connections: 256 },
  { name: "16KiB c64", path: "/16k", connections: 64 },
];
type Scenario = (typeof SCENARIOS)[number];
const TARGET_SCENARIO = "100B c64";
/** Targets running meshgate's one worker behind a host other than the local one. */
const HOSTS: [string, string][] = [
  ["mg-threads", "threads"],
  ["mg-processes", "processes"],
];
const TARGET_NAMES = ["direct", "nginx", "haproxy", "meshgate", ...HOSTS.map(([name]) => name)];

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, not ${raw}`);
  return n;
}

const QUICK = process.env["BENCH_QUICK"] === "1";
const ROUNDS = Math.round(positiveNumber("BENCH_RUNS", QUICK ? 1 : 3));
const DURATION_S = positiveNumber("BENCH_DURATION", QUICK ? 3 : 10);
const NODE_FLAGS = (process.env["MESHGATE_NODE_FLAGS"] ?? "").split(/\s+/).filter((f) => f !== "");
const ONLY = process.env["BENCH_ONLY"] ?? "";
if (!["", "http", "tls", "features", "apply", "controller"].includes(ONLY))
  throw new Error(`BENCH_ONLY must be http, tls, features, apply or controller, not ${ONLY}`);
const RUN_HTTP = ONLY === "" || ONLY === "http";
const RUN_TLS = ONLY === "" || ONLY === "tls";
const RUN_FEATURES = ONLY === "" || ONLY === "features";
const RUN_APPLY = ONLY === "" || ONLY === "apply";
const RUN_CONTROLLER = ONLY === "" || ONLY === "controller";
const RESULT_FILE = fileURLToPath(new URL("../../bench-result.json", import.meta.url));

async function startProxies(env: BenchEnv, originPort: number, failures: Map<string, string>) {
  const starters: [string, () => Promise<Target>][] = [
    ["nginx", () => startNginxProxy(env, PROXY_CORE, originPort)],
    ["haproxy", () => startHaproxy(env, PROXY_CORE, originPort)],
    // One event loop in the gateway's own process, as the benchmark has always measured it.
    ["meshgate", () => startMeshgate(env, PROXY_CORE, originPort, NODE_FLAGS, "meshgate", ["--worker-mode", "local"])],
    // The same single worker on a thread and in a supervised process (the cost of the host).
    ...HOSTS.map(([name, mode]): [string, () => Promise<Target>] => [
      name,
      () => startMeshgate(env, PROXY_CORE, originPort, NODE_FLAGS, name, ["--worker-mode", mode]),
    ]),
  ];
  const started: Target[] = [];
  for (const [name, start] of starters) {
    try {
      started.push(await start());
      console.error(`${name} serving`);
    } catch (err) {
      const reason = (err as Error).message;
      failures.set(name, `failed to start (${reason})`);
      console.error(`${name}: failed to start (${reason})`);
    }
  }
  return started;
}

async function measure(sup: Supervisor, target: Target, scenario: Scenario): Promise<Sample> {
  const run = { core: LOAD_CORE, port: target.port, path: scenario.path, connections: scenario.connections };
  await runWrk(sup, { ...run, seconds: WARMUP_S });
  const rss = target.proc === undefined ? undefined : sampleRss(target.proc.pid);
  const foreign = sampleForeignCpu(PROXY_CORE, target.proc?.pid);
  const { result, output } = await runWrk(sup, { ...run, seconds: DURATION_S });
  const sample: Sample = {
    foreignCpu: foreign.stop(),
    rps: result.rps,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    rssMb: rss?.stop() ?? Number.NaN,
    errors: result.errors,
  };
  const problem = wrkProblem(result, output);
  if (problem !== undefined) sample.problem = problem;
  return sample;
}

interface HttpResult {
  rows: Row[];
  notes: string[];
  checks: TargetCheck[];
}

/** The HTTP part: nginx, HAProxy and meshgate proxying plain HTTP; undefined when interrupted. */
async function runHttp(sup: Supervisor, env: BenchEnv, origin: Target): Promise<HttpResult | undefined> {
  const failures = new Map<string, string>();
  const targets = [origin, ...(await startProxies(env, origin.port, failures))];

  const samples = new Map<string, Sample[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const scenario of SCENARIOS) {
      for (const target of rotate(targets, round)) {
        if (failures.has(target.name)) continue;
        const sample = await measure(sup, target, scenario);
        if (interrupted) return undefined;
        const ended = target.proc?.exitReason();
        if (ended !== undefined) {
          const last = target.proc?.logTail(1) ?? "";
          failures.set(target.name, `stopped during ${scenario.name}, round ${round + 1} (${ended}: ${last})`);
          continue;
        }
        const key = sampleKey(scenario.name, target.name);
        samples.set(key, [...(samples.get(key) ?? []), sample]);
        console.error(
          `round ${round + 1}/${ROUNDS} ${scenario.name} ${target.name}: ${Math.round(sample.rps)} rps, ` +
            `p99 ${sample.p99Ms.toFixed(2)} ms`,
        );
      }
    }
  }

  const rows = summarise(
    SCENARIOS.map((s) => s.name),
    TARGET_NAMES,
    samples,
    failures,
  );
  return { rows, notes: formatNotes(rows), checks: checkTargets(rows, TARGET_SCENARIO) };
}

async function main(sup: Supervisor, workDir: string): Promise<void> {
  ensureTools();
  const machine = describeMachine();
  if (availableParallelism() < 2) throw new Error("the benchmark needs two cores (proxy / origin and wrk)");
  // The harness itself (RSS sampling) stays off the proxy's core too.
  execFileSync("taskset", ["-a", "-p", "-c", String(LOAD_CORE), String(process.pid)], { stdio: "ignore" });
  const env: BenchEnv = { sup, workDir };
  const origin = await startOrigin(env, LOAD_CORE);

  let http: HttpResult | undefined;
  if (RUN_HTTP) {
    http = await runHttp(sup, env, origin);
    if (http === undefined) return;
  }
  const part: BenchPartOptions = {
    env,
    proxyCore: PROXY_CORE,
    loadCore: LOAD_CORE,
    originPort: origin.port,
    rounds: ROUNDS,
    durationS: DURATION_S,
    warmupS: WARMUP_S,
    nodeFlags: NODE_FLAGS,
    interrupted: () => interrupted,
  };
  let tls: TlsBenchResult | undefined;
  if (RUN_TLS) {
    tls = await runTlsBench(part, machine.openssl);
    if (tls === undefined) return;
  }
  let features: FeatureBenchResult | undefined;
  if (RUN_FEATURES) {
    features = await runFeaturesBench({
      ...part,
      redisVersion: machine.redis,
    });
    if (features === undefined) return;
  }
  let apply: ApplyBenchResult | undefined;
  if (RUN_APPLY) {
    apply = await runApplyBench(part);
    if (apply === undefined) return;
  }
  let controller: ControllerBenchResult | undefined;
  if (RUN_CONTROLLER) {
    controller = await runControllerBench(part);
    if (controller === undefined) return;
  }

  const flags = NODE_FLAGS.length === 0 ? "" : `; meshgate node flags: ${NODE_FLAGS.join(" ")}`;
  const httpSection =
    http === undefined
      ? []
      : [
          "",
          formatTable(http.rows),
          ...(http.notes.length === 0 ? [] : ["", ...http.notes]),
          "",
          formatTargets(http.checks),
        ];
  console.log(
    [
      "",
      formatMachine(machine),
      `pinning: proxies on core ${PROXY_CORE}, origins (nginx, tls-source), Redis and load generators (wrk, ` +
        `tls-handshakes, tls-pump) on core ${LOAD_CORE} (taskset); ${ROUNDS} round(s) of ${DURATION_S} s per run after a ` +
        `${WARMUP_S} s warm-up, targets interleaved, medians${flags}`,
      ...httpSection,
      ...(tls === undefined ? [] : ["", ...formatTlsSection(tls)]),
      ...(features === undefined ? [] : ["", ...formatFeatureSection(features)]),
      ...(apply === undefined ? [] : ["", ...formatApplySection(apply)]),
      ...(controller === undefined ? [] : ["", ...formatControllerSection(controller)]),
    ].join("\n"),
  );
  const result = {
    machine,
    pinning: { proxyCore: PROXY_CORE, originCore: LOAD_CORE, wrkCore: LOAD_CORE },
    rounds: ROUNDS,
    durationS: DURATION_S,
    warmupS: WARMUP_S,
    meshgateNodeFlags: NODE_FLAGS,
    ...(http === undefined ? {} : { rows: http.rows, notes: http.notes, targets: http.checks }),
    ...(tls === undefined ? {} : { tls: { rows: tls.rows, notes: tls.notes, targets: tls.targets, costs: tls.costs } }),
    ...(features === undefined
      ? {}
      : { features: { rows: features.rows, notes: features.notes, targets: features.targets } }),
    ...(apply === undefined ? {} : { apply: { rows: apply.rows, notes: apply.notes } }),
    ...(controller === undefined ? {} : { controller }),
  };
  writeFileSync(RESULT_FILE, `${JSON.stringify(result, null, 2)}\n`);
  console.error(`\nwritten ${RESULT_FILE}`);
}

const workDir = mkdtempSync(join(tmpdir(), "meshgate-bench-"));
const sup = new Supervisor(workDir);
let cleaning: Promise<void> | undefined;
let interrupted = false;
function cleanup(): Promise<void> {
  cleaning ??= sup.stopAll().finally(() => rmSync(workDir, { recursive: true, force: true }));
  return cleaning;
}
// Nothing asynchronous runs in 'exit': this only catches children a crash left behind.
process.once("exit", () => sup.killAllNow());
for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping every process the benchmark started`);
    void cleanup().then(() => process.exit(code));
  });
}
main(sup, workDir)
  .catch((err: Error) => {
    // After a signal, the runs cut short fail on purpose; their errors say nothing new.
    if (interrupted) return;
    console.error(`benchmark failed: ${err.message}`);
    process.exitCode = 1;
  })
  .finally(cleanup);
