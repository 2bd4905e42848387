// The feature benchmark's processes: a redis-server and a second nginx origin (the mirror's) on
// the load core, and one meshgate per variant on the proxy core; and the counters that show what
// each variant did (meshgate's admin /metrics, Redis keys, the mirror origin's stub_status).
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../support/net.js";
import { BODY_100, nginxOriginConf, ORIGIN_STATUS_PATH } from "./harness-configs.js";
import { type Counters, meshgateCounters, NO_COUNTERS, parseStubStatus } from "./harness-feature-checks.js";
import {
  type FeaturePorts,
  type FeatureVariant,
  meshgateFeatureConfig,
  REDIS_KEY_PATTERN,
  variantArgs,
  variantProcName,
} from "./harness-feature-configs.js";
import { httpGet, waitServing } from "./harness-probe.js";
import type { Pinned } from "./harness-procs.js";
import {
  type BenchEnv,
  meshgateServing,
  proxying,
  spawnMeshgate,
  START_TIMEOUT_MS,
  startNginx,
} from "./harness-targets.js";
import { REDIS_CLI, REDIS_SERVER } from "./harness-tools.js";

const run = promisify(execFile);

export interface Backing {
  port: number;
  proc: Pinned;
}

/** One redis-cli command against the bench's Redis; its stdout. */
export async function redisCli(port: number, args: string[]): Promise<string> {
  const { stdout } = await run(REDIS_CLI, ["-h", "127.0.0.1", "-p", String(port), ...args], { timeout: 10_000 });
  return stdout;
}

/** redis-server without persistence (nothing written to disk between runs), pinned to `core`. */
export async function startRedis(env: BenchEnv, core: number): Promise<Backing> {
  const port = await freePort();
  const dir = join(env.workDir, "redis");
  mkdirSync(dir, { recursive: true });
  const proc = env.sup.start("redis", core, REDIS_SERVER, [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--daemonize",
    "no",
    "--dir",
    dir,
  ]);
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = "";
  for (;;) {
    const ended = proc.exitReason();
    if (ended !== undefined) throw new Error(`redis-server: ${ended}: ${proc.logTail(1)}`);
    try {
      if ((await redisCli(port, ["PING"])).trim() === "PONG") return { port, proc };
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING (${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The meshgate-rl* keys in Redis and the sum of their counts. */
export async function readRedisCount(port: number): Promise<{ keys: number; count: number }> {
  const keys = (await redisCli(port, ["--scan", "--pattern", REDIS_KEY_PATTERN]))
    .split("\n")
    .filter((k) => k !== "");
  let count = 0;
  for (const key of keys) count += Number((await redisCli(port, ["GET", key])).trim());
  return { keys: keys.length, count };
}

/** The mirror's origin: the same nginx origin on its own port, with its request counter exposed. */
export async function startMirrorOrigin(env: BenchEnv, core: number): Promise<Backing> {
  const port = await freePort();
  const www = join(env.workDir, "mirror-www");
  mkdirSync(www, { recursive: true });
  const proc = await startNginx(env, "mirror-origin", core, (dir) => nginxOriginConf(dir, port, www, true));
  await waitServing(proc, port, "/100", START_TIMEOUT_MS, { status: 200, bodyLength: BODY_100.length });
  await waitServing(proc, port, ORIGIN_STATUS_PATH, START_TIMEOUT_MS);
  return { port, proc };
}

export async function readOriginRequests(port: number): Promise<number> {
  const res = await httpGet(port, ORIGIN_STATUS_PATH);
  return res.status === 200 ? parseStubStatus(res.body) : Number.NaN;
}

export interface FeatureTarget {
  variant: FeatureVariant;
  port: number;
  adminPort: number;
  proc: Pinned;
}

export interface FeatureBacking {
  originPort: number;
  redis?: Backing;
  mirror?: Backing;
}

/** Every counter this variant is checked with, read now. */
export async function readCounters(target: FeatureTarget, backing: FeatureBacking): Promise<Counters> {
  const counters: Counters = { ...NO_COUNTERS };
  const metrics = await httpGet(target.adminPort, "/metrics", 5000);
  if (metrics.status === 200) Object.assign(counters, meshgateCounters(metrics.body));
  if (target.variant === "global limit" && backing.redis !== undefined) {
    const { keys, count } = await readRedisCount(backing.redis.port);
    counters.redisKeys = keys;
    counters.redisCount = count;
  }
  if (target.variant === "mirror 100%" && backing.mirror !== undefined)
    counters.mirrorOriginRequests = await readOriginRequests(backing.mirror.port);
  return counters;
}

/** Polls `check` for a few seconds; false if it never held. */
async function eventually(check: () => Promise<boolean>, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * meshgate with the variant's configuration, serving the origin's answer; a variant whose feature
 * does not act on the readiness probes fails to start here (no Redis key, no copy at the mirror).
 */
export async function startFeatureMeshgate(
  env: BenchEnv,
  core: number,
  variant: FeatureVariant,
  backing: FeatureBacking,
  nodeFlags: string[],
): Promise<FeatureTarget> {
  const needs = variant === "global limit" ? backing.redis : variant === "mirror 100%" ? backing.mirror : true;
  if (needs === undefined) throw new Error(`${variant} needs ${variant === "global limit" ? "Redis" : "the mirror origin"}`);
  // Each status request counts itself: what arrives beyond the polls themselves came from meshgate.
  const mirrorBefore = backing.mirror === undefined ? 0 : await readOriginRequests(backing.mirror.port);
  const ports: FeaturePorts = {
    port: await freePort(),
    originPort: backing.originPort,
    mirrorPort: backing.mirror?.port ?? 0,
  };
  const { proc, adminPort } = await spawnMeshgate(
    env,
    variantProcName(variant),
    core,
    meshgateFeatureConfig(variant, ports),
    nodeFlags,
    variantArgs(variant, backing.redis?.port ?? 0),
  );
  await meshgateServing(proc, adminPort, () => proxying(proc, ports.port));
  const target: FeatureTarget = { variant, port: ports.port, adminPort, proc };
  if (variant === "global limit" && backing.redis !== undefined) {
    const redisPort = backing.redis.port;
    if (!(await eventually(async () => (await readRedisCount(redisPort)).count > 0)))
      throw new Error(`serving, but its requests left no ${REDIS_KEY_PATTERN} key in Redis`);
  }
  if (variant === "mirror 100%" && backing.mirror !== undefined) {
    const mirrorPort = backing.mirror.port;
    let polls = 0;
    if (!(await eventually(async () => (await readOriginRequests(mirrorPort)) - mirrorBefore - ++polls > 0)))
      throw new Error("serving, but no mirrored copy reached the mirror origin");
  }
  return target;
}
