// The command line's Redis settings made into a RedisTarget: one of a URL (--redis), Sentinels
// (--redis-sentinels + --redis-sentinel-name) or Cluster nodes (--redis-cluster), each with an
// environment variable; TLS by a rediss:// URL or --redis-tls, with --redis-ca for a private CA.
// Pure but for reading the CA file: the caller passes the parsed flags and the environment.
import { readFileSync } from "node:fs";
import type { RedisAddress, RedisAuth, RedisTarget, RedisTls } from "../gateway/ratelimit/redis-client.js";

export interface RedisFlags {
  redis?: string | undefined;
  "redis-sentinels"?: string | undefined;
  "redis-sentinel-name"?: string | undefined;
  "redis-cluster"?: string | undefined;
  "redis-tls"?: boolean | undefined;
  "redis-ca"?: string | undefined;
  "redis-timeout"?: string | undefined;
}

/** A Redis setting that cannot be used; the message says which and why. */
export class RedisFlagError extends Error {}

export const REDIS_ENV = {
  url: "MESHGATE_REDIS_URL",
  sentinels: "MESHGATE_REDIS_SENTINELS",
  sentinelName: "MESHGATE_REDIS_SENTINEL_NAME",
  cluster: "MESHGATE_REDIS_CLUSTER",
  username: "MESHGATE_REDIS_USERNAME",
  password: "MESHGATE_REDIS_PASSWORD",
  tls: "MESHGATE_REDIS_TLS",
  ca: "MESHGATE_REDIS_CA",
  timeout: "MESHGATE_REDIS_TIMEOUT_MS",
} as const;

interface Modes {
  url: string | undefined;
  sentinels: string | undefined;
  cluster: string | undefined;
}

/**
 * Undefined when no Redis is configured. A mode given on the command line wins over the
 * environment (as a flag overrides a container's defaults); two modes from the same place are
 * refused, since either reading of them could count in the wrong Redis.
 */
export function redisTargetFrom(
  flags: RedisFlags,
  env: Record<string, string | undefined>,
  readText: (path: string) => string = (path) => readFileSync(path, "utf8"),
): RedisTarget | undefined {
  const fromFlags: Modes = { url: flags.redis, sentinels: flags["redis-sentinels"], cluster: flags["redis-cluster"] };
  const fromEnv: Modes = {
    url: setting(env, REDIS_ENV.url),
    sentinels: setting(env, REDIS_ENV.sentinels),
    cluster: setting(env, REDIS_ENV.cluster),
  };
  const useFlags = given(fromFlags).length > 0;
  const modes = useFlags ? fromFlags : fromEnv;
  const names = useFlags
    ? { url: "--redis", sentinels: "--redis-sentinels", cluster: "--redis-cluster" }
    : { url: REDIS_ENV.url, sentinels: REDIS_ENV.sentinels, cluster: REDIS_ENV.cluster };
  const chosen = given(modes);
  if (chosen.length > 1) {
    throw new RedisFlagError(`give one Redis mode, not ${chosen.map((m) => names[m]).join(" and ")}`);
  }
  if (flags["redis-sentinel-name"] !== undefined && chosen[0] !== "sentinels") {
    throw new RedisFlagError("--redis-sentinel-name needs --redis-sentinels");
  }
  const credentials = auth(env);
  const tlsWanted = flags["redis-tls"] === true || truthy(env, REDIS_ENV.tls);
  const caFile = flags["redis-ca"] ?? setting(env, REDIS_ENV.ca);
  const timeout = timeoutMs(flags["redis-timeout"], setting(env, REDIS_ENV.timeout));
  if (chosen[0] === undefined) {
    if (tlsWanted || caFile !== undefined) throw new RedisFlagError("Redis TLS settings given, but no Redis (--redis, --redis-sentinels or --redis-cluster)");
    if (timeout.timeoutMs !== undefined) throw new RedisFlagError("a Redis timeout given, but no Redis (--redis, --redis-sentinels or --redis-cluster)");
    return undefined;
  }
  // A CA to trust only means something over TLS, so for Sentinel and Cluster it turns TLS on.
  const tls: { tls?: RedisTls } = tlsWanted || caFile !== undefined ? { tls: caFile === undefined ? {} : { ca: readCa(caFile, readText) } } : {};
  switch (chosen[0]) {
    case "url": {
      const url = modes.url as string;
      if (!/^rediss?:\/\/./.test(url)) throw new RedisFlagError(`${names.url} must be a redis:// or rediss:// URL`);
      if (credentials.username !== undefined || credentials.password !== undefined) {
        throw new RedisFlagError(
          `${REDIS_ENV.username} and ${REDIS_ENV.password} are for Sentinel and Cluster; put a standalone Redis's credentials in its URL`,
        );
      }
      // The scheme says whether a standalone Redis is reached over TLS; a setting that says
      // otherwise is refused rather than either one silently winning.
      if (!url.startsWith("rediss://")) {
        if (tlsWanted || caFile !== undefined) {
          throw new RedisFlagError(`${names.url} is a redis:// URL (no TLS), but Redis TLS settings are given: write rediss:// for TLS`);
        }
        return { mode: "standalone", url, ...timeout };
      }
      return { mode: "standalone", url, tls: tls.tls ?? {}, ...timeout };
    }
    case "sentinels": {
      const sentinels = addressList(modes.sentinels as string, names.sentinels);
      const name = flags["redis-sentinel-name"] ?? setting(env, REDIS_ENV.sentinelName);
      if (name === undefined) {
        throw new RedisFlagError(`${names.sentinels} needs the master's name: --redis-sentinel-name or ${REDIS_ENV.sentinelName}`);
      }
      if (!/^[^\s]+$/.test(name)) throw new RedisFlagError(`the Sentinel master name must be one word, got "${name}"`);
      return { mode: "sentinel", sentinels, name, ...credentials, ...tls, ...timeout };
    }
    case "cluster":
      return { mode: "cluster", nodes: addressList(modes.cluster as string, names.cluster), ...credentials, ...tls, ...timeout };
  }
}

/** Milliseconds, 1 to 60000, from the flag or else the environment; empty when neither is given. */
function timeoutMs(flag: string | undefined, env: string | undefined): { timeoutMs?: number } {
  const value = flag ?? env;
  if (value === undefined) return {};
  const ms = Number(value);
  if (!/^\d+$/.test(value) || ms < 1 || ms > 60_000) {
    throw new RedisFlagError(`${flag === undefined ? REDIS_ENV.timeout : "--redis-timeout"} must be milliseconds from 1 to 60000, got "${value}"`);
  }
  return { timeoutMs: ms };
}

function readCa(path: string, readText: (path: string) => string): string {
  let pem: string;
  try {
    pem = readText(path);
  } catch (error) {
    throw new RedisFlagError(`Redis CA file ${path}: ${(error as Error).message}`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new RedisFlagError(`Redis CA file ${path} holds no PEM certificate`);
  return pem;
}

/** true, 1 or yes (any case) turn a switch on; false, 0, no or empty leave it off; anything else is refused. */
function truthy(env: Record<string, string | undefined>, name: string): boolean {
  const value = setting(env, name)?.toLowerCase();
  if (value === undefined || value === "false" || value === "0" || value === "no") return false;
  if (value === "true" || value === "1" || value === "yes") return true;
  throw new RedisFlagError(`${name} must be true or false, got "${env[name]}"`);
}

function given(modes: Modes): (keyof Modes)[] {
  return (Object.keys(modes) as (keyof Modes)[]).filter((mode) => modes[mode] !== undefined);
}

/** An empty variable counts as unset, as deployment templates often leave them. */
function setting(env: Record<string, string | undefined>, name: string): string | undefined {
  const value = env[name];
  return value === "" ? undefined : value;
}

function auth(env: Record<string, string | undefined>): RedisAuth {
  const username = setting(env, REDIS_ENV.username);
  const password = setting(env, REDIS_ENV.password);
  return { ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password }) };
}

/** "host:port,host:port"; an IPv6 host is written in brackets, as in "[::1]:6379". */
export function addressList(value: string, source: string): RedisAddress[] {
  const items = value.split(",").map((item) => item.trim());
  if (items.some((item) => item === "")) {
    throw new RedisFlagError(`${source} must be a comma-separated list of host:port, got "${value}"`);
  }
  return items.map((item) => {
    const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/.exec(item);
    const host = match?.[1] ?? match?.[2];
    const port = Number(match?.[3]);
    if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RedisFlagError(`${source}: "${item}" is not host:port (port 1-65535)`);
    }
    return { host, port };
  });
}
