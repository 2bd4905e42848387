// The feature part of `npm run bench`: what a rate limit and a mirror cost, with the HTTP part's
// pinning and method (meshgate on the proxy core; origins, Redis and wrk on the load core;
// interleaved rounds, medians), at the HTTP target's scenario (100 B, 64 connections):
// - meshgate without policy (the reference);
// - a Global RateLimitPolicy whose limit is never reached, counted in a real redis-server: the pure
//   overhead of the Redis check;
// - the same policy as a Local limit (counted in process);
// - a RequestMirror of every request to a second origin (its own nginx, its own port).
// Counters outside wrk (meshgate's metrics, the Redis key, the mirror origin's request count) are
// read around every measured run to show the variant did what it claims; a target is not judged
// on a variant that did not.
import { type Counters, verifyRun } from "./harness-feature-checks.js";
import { FEATURE_REFERENCE, FEATURE_VARIANTS, type FeatureVariant, NEVER_REACHED } from "./harness-feature-configs.js";
import {
  checkFeatureTargets,
  type FeatureRow,
  type FeatureSample,
  formatFeatureNotes,
  formatFeatureTable,
  formatFeatureTargets,
  summariseFeatures,
} from "./harness-feature-report.js";
import {
  type FeatureBacking,
  type FeatureTarget,
  readCounters,
  startFeatureMeshgate,
  startMirrorOrigin,
  startRedis,
} from "./harness-feature-targets.js";
import { sampleCoreUse, sampleRss } from "./harness-probe.js";
import { rotate, type TargetCheck } from "./harness-report.js";
import type { BenchPartOptions } from "./harness-targets.js";
import { runWrk, type WrkRun, wrkProblem } from "./harness-wrk.js";

export interface FeatureBenchOptions extends BenchPartOptions {
  redisVersion: string;
}

export interface FeatureBenchResult {
  header: string[];
  rows: FeatureRow[];
  /** check: lines (what each run's counters showed), then notes. */
  notes: string[];
  targets: TargetCheck[];
}

/** The HTTP part's target scenario. */
const SCENARIO = { name: "100B c64", path: "/100", connections: 64 };
/** Mirror copies and limiter calls of the last requests land a moment after wrk stops. */
const SETTLE_MS = 300;

interface Started {
  backing: FeatureBacking;
  targets: Map<FeatureVariant, FeatureTarget>;
  failures: Map<FeatureVariant, string>;
}

async function startAll(opts: FeatureBenchOptions): Promise<Started> {
  const { env, proxyCore, loadCore, nodeFlags } = opts;
  const started: Started = { backing: { originPort: opts.originPort }, targets: new Map(), failures: new Map() };
  try {
    started.backing.redis = await startRedis(env, loadCore);
    console.error(`redis serving on ${started.backing.redis.port}`);
  } catch (err) {
    started.failures.set("global limit", `failed to start (Redis did not: ${(err as Error).message})`);
  }
  try {
    started.backing.mirror = await startMirrorOrigin(env, loadCore);
    console.error(`mirror origin serving on ${started.backing.mirror.port}`);
  } catch (err) {
    started.failures.set("mirror 100%", `failed to start (the mirror origin did not: ${(err as Error).message})`);
  }
  for (const variant of FEATURE_VARIANTS) {
    if (opts.interrupted() || started.failures.has(variant)) continue;
    try {
      started.targets.set(variant, await startFeatureMeshgate(env, proxyCore, variant, started.backing, nodeFlags));
      console.error(`${variant} serving`);
    } catch (err) {
      const reason = (err as Error).message;
      started.failures.set(variant, `failed to start (${reason})`);
      console.error(`${variant}: failed to start (${reason})`);
    }
  }
  return started;
}

const settle = () => new Promise((r) => setTimeout(r, SETTLE_MS));

async function countersOf(target: FeatureTarget, backing: FeatureBacking): Promise<Counters | string> {
  await settle();
  try {
    return await readCounters(target, backing);
  } catch (err) {
    return `counters not readable: ${(err as Error).message}`;
  }
}

async function measure(opts: FeatureBenchOptions, target: FeatureTarget, backing: FeatureBacking): Promise<FeatureSample> {
  const run: Omit<WrkRun, "seconds"> = {
    core: opts.loadCore,
    port: target.port,
    path: SCENARIO.path,
    connections: SCENARIO.connections,
  };
  await runWrk(opts.env.sup, { ...run, seconds: opts.warmupS });
  const before = await countersOf(target, backing);
  const rss = sampleRss(target.proc.pid);
  const cpu = sampleCoreUse(opts.proxyCore, opts.loadCore, target.proc.pid);
  const { result, output } = await runWrk(opts.env.sup, { ...run, seconds: opts.durationS });
  const use = cpu.stop();
  const sample: FeatureSample = {
    foreignCpu: use.foreign,
    ownCpu: use.own,
    loadCpu: use.load,
    rps: result.rps,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    rssMb: rss.stop(),
    errors: result.errors,
    verification: { summary: "", problems: [] },
  };
  const after = await countersOf(target, backing);
  if (typeof before === "string" || typeof after === "string") {
    const why = typeof before === "string" ? before : (after as string);
    sample.verification = { summary: "no counters", problems: [why] };
  } else {
    const facts = { requests: result.requests, non2xx: result.non2xx, connections: SCENARIO.connections };
    sample.verification = verifyRun(target.variant, before, after, facts);
  }
  const problem = wrkProblem(result, output);
  if (problem !== undefined) sample.problem = problem;
  return sample;
}

/** A backing process that stopped makes the variant that needs it fail from here on. */
function backingStopped(started: Started, where: string): void {
  const needs: [FeatureVariant, string, FeatureBacking["redis"]][] = [
    ["global limit", "Redis", started.backing.redis],
    ["mirror 100%", "the mirror origin", started.backing.mirror],
  ];
  for (const [variant, what, backing] of needs) {
    const ended = backing?.proc.exitReason();
    if (ended !== undefined && !started.failures.has(variant))
      started.failures.set(variant, `${what} stopped during ${where} (${ended})`);
  }
}

function header(opts: FeatureBenchOptions): string[] {
  const limit = `${NEVER_REACHED.requests} requests per ${NEVER_REACHED.unit}`;
  return [
    `features: meshgate variants at ${SCENARIO.name} (the HTTP target's scenario), each its own process on ` +
      `core ${opts.proxyCore}; Redis ${opts.redisVersion} (no persistence) and the mirror origin (a second ` +
      `nginx, own port) on core ${opts.loadCore} with the origin and wrk`,
    `variants: ${FEATURE_REFERENCE}: no policy (reference); global limit: a RateLimitPolicy on the route, ` +
      `Global, ${limit} (never reached), --redis; local limit: the same policy, Local; mirror 100%: ` +
      "RequestMirror of every request (percent 100) to the mirror origin; p99 added: p99 minus the reference's; " +
      `proxy cpu: meshgate's share of core ${opts.proxyCore}; load cpu: how busy core ${opts.loadCore} was; cpu us/req: meshgate's CPU per request`,
    "checks: counters read around each measured run (meshgate /metrics, the meshgate-rl* key in Redis, " +
      "the mirror origin's stub_status) must account for wrk's requests; a variant that fails them is " +
      "INVALID for its targets",
  ];
}

/** Runs every variant; undefined when interrupted. */
export async function runFeaturesBench(opts: FeatureBenchOptions): Promise<FeatureBenchResult | undefined> {
  const started = await startAll(opts);
  const samples = new Map<FeatureVariant, FeatureSample[]>();
  for (let round = 0; round < opts.rounds; round++) {
    for (const variant of rotate([...FEATURE_VARIANTS], round)) {
      const target = started.targets.get(variant);
      if (target === undefined || started.failures.has(variant)) continue;
      const sample = await measure(opts, target, started.backing);
      if (opts.interrupted()) return undefined;
      const where = `${SCENARIO.name}, round ${round + 1}`;
      const ended = target.proc.exitReason();
      if (ended !== undefined) {
        started.failures.set(variant, `stopped during ${where} (${ended}: ${target.proc.logTail(1)})`);
        continue;
      }
      samples.set(variant, [...(samples.get(variant) ?? []), sample]);
      const problems = sample.verification.problems;
      console.error(
        `round ${round + 1}/${opts.rounds} ${SCENARIO.name} ${variant}: ${Math.round(sample.rps)} rps, ` +
          `p99 ${sample.p99Ms.toFixed(2)} ms; ${problems.length === 0 ? "verified" : `NOT VERIFIED: ${problems.join("; ")}`}`,
      );
      backingStopped(started, where);
    }
  }
  const rows = summariseFeatures(SCENARIO.name, FEATURE_VARIANTS, samples, started.failures);
  return { header: header(opts), rows, notes: formatFeatureNotes(rows), targets: checkFeatureTargets(rows) };
}

/** The feature section of the printed report. */
export function formatFeatureSection(result: FeatureBenchResult): string[] {
  return [
    ...result.header,
    "",
    formatFeatureTable(result.rows),
    ...(result.notes.length === 0 ? [] : ["", ...result.notes]),
    "",
    formatFeatureTargets(result.targets),
  ];
}
