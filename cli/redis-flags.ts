// The command line's Redis settings made into a RedisTarget: one of a URL (--redis), Sentinels
// (--redis-sentinels + --redis-sentinel-name) or Cluster nodes (--redis-cluster), each with an
// environment variable. Pure: the caller passes the parsed flags and the environment.
import type { RedisAddress, RedisAuth, RedisTarget } from "../gateway/ratelimit/redis-client.js";

export interface RedisFlags {
  redis?: string | undefined;
  "redis-sentinels"?: string | undefined;
  "redis-sentinel-name"?: string | undefined;
  "redis-cluster"?: string | undefined;
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
export function redisTargetFrom(flags: RedisFlags, env: Record<string, string | undefined>): RedisTarget | undefined {
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
  switch (chosen[0]) {
    case undefined:
      return undefined;
    case "url": {
      const url = modes.url as string;
      if (!/^rediss?:\/\/./.test(url)) throw new RedisFlagError(`${names.url} must be a redis:// or rediss:// URL`);
      if (credentials.username !== undefined || credentials.password !== undefined) {
        throw new RedisFlagError(
          `${REDIS_ENV.username} and ${REDIS_ENV.password} are for Sentinel and Cluster; put a standalone Redis's credentials in its URL`,
        );
      }
      return { mode: "standalone", url };
    }
    case "sentinels": {
      const sentinels = addressList(modes.sentinels as string, names.sentinels);
      const name = flags["redis-sentinel-name"] ?? setting(env, REDIS_ENV.sentinelName);
      if (name === undefined) {
        throw new RedisFlagError(`${names.sentinels} needs the master's name: --redis-sentinel-name or ${REDIS_ENV.sentinelName}`);
      }
      if (!/^[^\s]+$/.test(name)) throw new RedisFlagError(`the Sentinel master name must be one word, got "${name}"`);
      return { mode: "sentinel", sentinels, name, ...credentials };
    }
    case "cluster":
      return { mode: "cluster", nodes: addressList(modes.cluster as string, names.cluster), ...credentials };
  }
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
