// Starts the origin and each proxy, pinned, on free loopback ports, and waits until each serves.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../support/net.js";
import {
  BODY_16K_BYTES,
  BODY_100,
  haproxyConf,
  meshgateConfig,
  nginxOriginConf,
  nginxProxyConf,
} from "./harness-configs.js";
import { httpGet, waitServing } from "./harness-probe.js";
import type { Pinned, Supervisor } from "./harness-procs.js";
import { HAPROXY, NGINX } from "./harness-tools.js";

const MESHGATE_CLI = fileURLToPath(new URL("../../cli.js", import.meta.url));
export const START_TIMEOUT_MS = 20_000;

export interface Target {
  name: string;
  port: number;
  /** The process whose RSS is sampled; absent for "direct" (that would be the origin's). */
  proc?: Pinned;
}

export interface BenchEnv {
  sup: Supervisor;
  workDir: string;
}

export async function startNginx(env: BenchEnv, name: string, core: number, conf: (dir: string) => string) {
  const dir = join(env.workDir, name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "nginx.conf");
  writeFileSync(file, conf(dir));
  // -e: nginx opens its error log before reading the config; keep that one out of /var/log too.
  return env.sup.start(name, core, NGINX, ["-e", join(dir, "error.log"), "-p", dir, "-c", file]);
}

export async function startOrigin(env: BenchEnv, core: number): Promise<Target> {
  const port = await freePort();
  const www = join(env.workDir, "www");
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, "16k"), "0123456789abcdef".repeat(BODY_16K_BYTES / 16));
  const proc = await startNginx(env, "origin", core, (dir) => nginxOriginConf(dir, port, www));
  await waitServing(proc, port, "/100", START_TIMEOUT_MS, { status: 200, bodyLength: BODY_100.length });
  await waitServing(proc, port, "/16k", START_TIMEOUT_MS, { status: 200, bodyLength: BODY_16K_BYTES });
  return { name: "direct", port };
}

/** Until the proxy hands the origin's exact 100-byte answer back, it is not serving. */
export async function proxying(proc: Pinned, port: number): Promise<void> {
  await waitServing(proc, port, "/100", START_TIMEOUT_MS, { status: 200, bodyLength: BODY_100.length });
}

export async function startNginxProxy(env: BenchEnv, core: number, originPort: number): Promise<Target> {
  const port = await freePort();
  const proc = await startNginx(env, "nginx", core, (dir) => nginxProxyConf(dir, port, originPort));
  await proxying(proc, port);
  return { name: "nginx", port, proc };
}

export async function startHaproxy(env: BenchEnv, core: number, originPort: number): Promise<Target> {
  const port = await freePort();
  const file = join(env.workDir, "haproxy.cfg");
  writeFileSync(file, haproxyConf(port, originPort, env.sup.fdLimit));
  // -db: stay in the foreground, one process, so its pid is the one to sample.
  const proc = env.sup.start("haproxy", core, HAPROXY, ["-db", "-f", file]);
  await proxying(proc, port);
  return { name: "haproxy", port, proc };
}

/**
 * `nodeFlags` (MESHGATE_NODE_FLAGS) go before the script, e.g. --max-semi-space-size=64;
 * `extraArgs` after meshgate's own (a --worker-mode for the host comparison).
 */
export async function startMeshgate(
  env: BenchEnv,
  core: number,
  originPort: number,
  nodeFlags: string[],
  name = "meshgate",
  extraArgs: string[] = [],
): Promise<Target> {
  const port = await freePort();
  const { proc, adminPort } = await spawnMeshgate(env, name, core, meshgateConfig(port, originPort), nodeFlags, extraArgs);
  await meshgateServing(proc, adminPort, () => proxying(proc, port));
  return { name, port, proc };
}

/** `meshgate standalone` with one worker on `core`, on a folder holding `config` (YAML); logs to
 * <workDir>/<name>.log; `extraArgs` go after the benchmark's own flags (e.g. --redis URL). The
 * caller waits for it with meshgateServing. */
export async function spawnMeshgate(
  env: BenchEnv,
  name: string,
  core: number,
  config: string,
  nodeFlags: string[],
  extraArgs: string[] = [],
): Promise<{ proc: Pinned; adminPort: number }> {
  if (!existsSync(MESHGATE_CLI)) throw new Error(`${MESHGATE_CLI} not found: run npm run build`);
  const adminPort = await freePort();
  const configDir = join(env.workDir, `${name}-config`);
  mkdirSync(configDir, { recursive: true });
  writeFileSync(join(configDir, "bench.yaml"), config);
  const proc = env.sup.start(name, core, process.execPath, [
    ...nodeFlags,
    MESHGATE_CLI,
    "standalone",
    "--config",
    configDir,
    "--workers",
    "1",
    "--admin-port",
    String(adminPort),
    // nginx and HAProxy log nothing either.
    "--access-log",
    "off",
    "--drain-timeout",
    "1",
    ...extraArgs,
  ]);
  return { proc, adminPort };
}

/** Waits for admin /ready, then for `serving`; a failure carries what admin /status says. */
export async function meshgateServing(proc: Pinned, adminPort: number, serving: () => Promise<void>): Promise<void> {
  try {
    await waitServing(proc, adminPort, "/ready", START_TIMEOUT_MS);
    await serving();
  } catch (err) {
    const status = await httpGet(adminPort, "/status").catch(() => undefined);
    const detail =
      status === undefined ? "" : `; admin /status: ${status.body.replace(/\s+/g, " ").slice(0, 300)}`;
    throw new Error(`${(err as Error).message}${detail}`);
  }
}

/** What every part of the benchmark after the HTTP table is run with. */
export interface BenchPartOptions {
  env: BenchEnv;
  proxyCore: number;
  loadCore: number;
  /** The plain-HTTP nginx origin the proxies forward to. */
  originPort: number;
  rounds: number;
  durationS: number;
  warmupS: number;
  nodeFlags: string[];
  /** True once SIGINT/SIGTERM arrived: stop measuring. */
  interrupted: () => boolean;
}
