// The programs the benchmark drives: installed from Debian's packages when missing, and described
// (versions, cores) in the report's header line.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus } from "node:os";

export const NGINX = "/usr/sbin/nginx";
export const HAPROXY = "/usr/sbin/haproxy";
export const WRK = "/usr/bin/wrk";
export const REDIS_SERVER = "/usr/bin/redis-server";
export const REDIS_CLI = "/usr/bin/redis-cli";

export function ensureTools(): void {
  const missing = [NGINX, HAPROXY, WRK, REDIS_SERVER, REDIS_CLI].filter((path) => !existsSync(path));
  if (missing.length === 0) return;
  console.error(`installing nginx, haproxy, wrk and redis-server (missing: ${missing.join(", ")})`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "nginx", "haproxy", "wrk", "redis-server"], { stdio: "inherit", env });
}

/** The first match of `pattern` in what `cmd args` prints on stdout or stderr (nginx and wrk use
 * stderr, and wrk -v exits with 1). */
function versionOf(cmd: string, args: string[], pattern: RegExp): string {
  const res = spawnSync(cmd, args, { encoding: "utf8" });
  const text = `${res.stdout ?? ""}${res.stderr ?? ""}`;
  return pattern.exec(text)?.[1] ?? "unknown";
}

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  nginx: string;
  haproxy: string;
  wrk: string;
  /** The system's OpenSSL, which nginx, HAProxy and wrk use. */
  openssl: string;
  /** The feature benchmark's Redis. */
  redis: string;
}

export function describeMachine(): Machine {
  return {
    // All online cores, not availableParallelism(): that follows this process's own pinning.
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    node: process.version,
    nginx: versionOf(NGINX, ["-v"], /nginx\/(\S+)/),
    haproxy: versionOf(HAPROXY, ["-v"], /HAProxy version (\S+)/),
    wrk: versionOf(WRK, ["-v"], /^wrk (\S+)/m),
    openssl: versionOf("openssl", ["version"], /^OpenSSL (\S+)/),
    redis: versionOf(REDIS_SERVER, ["--version"], /\bv=(\S+)/),
  };
}

export function formatMachine(m: Machine): string {
  return (
    `machine: ${m.cores} cores (${m.cpu}), node ${m.node}, nginx ${m.nginx}, HAProxy ${m.haproxy}, ` +
    `wrk ${m.wrk}, OpenSSL ${m.openssl}, Redis ${m.redis}`
  );
}
