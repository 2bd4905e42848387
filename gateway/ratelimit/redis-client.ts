// Where Global rate limits are counted: one Redis, reached standalone (a URL), through Sentinel
// or as a Cluster. Plain data, so it crosses to worker threads; each thread makes its own client.
import { createRequire } from "node:module";
import type { ConnectionOptions } from "node:tls";
import type { Cluster, Redis, RedisOptions } from "ioredis";

// ioredis is loaded only when a Redis is configured and a Global limit needs it.
const requireModule = createRequire(import.meta.url);

export interface RedisAddress {
  host: string;
  port: number;
}

/** ACL user and password of the data nodes (a standalone URL carries its own). */
export interface RedisAuth {
  username?: string;
  password?: string;
}

/**
 * TLS to every Redis connection (data nodes and sentinels). The server's certificate is checked
 * against the system's CAs, or against `ca` (PEM) alone when given.
 */
export interface RedisTls {
  ca?: string;
}

export type RedisTarget = (
  /** TLS when the URL is rediss:// (then `tls` says what to trust), never otherwise. */
  | { mode: "standalone"; url: string }
  /** Sentinels are asked where the master called `name` is; counting happens on that master. */
  | ({ mode: "sentinel"; sentinels: RedisAddress[]; name: string } & RedisAuth)
  /** Any reachable nodes; the rest of the cluster is discovered from them. */
  | ({ mode: "cluster"; nodes: RedisAddress[] } & RedisAuth)
) & {
  tls?: RedisTls;
  /** A call unanswered after this long is answered as in an outage (default REDIS_TIMEOUT_MS). */
  timeoutMs?: number;
};

/** How long a rate limit waits for Redis by default. */
export const REDIS_TIMEOUT_MS = 250;

/**
 * A connection that has sent commands and received nothing at all for this long (and at least a
 * second) is given up: it is closed, which fails every command still waiting on it and frees
 * what the client holds for them, and the client connects again. A Redis that is slow but alive
 * keeps sending answers, so only a hung server (SIGSTOP, a stalled host, a half-open connection)
 * gets there. Measured with Redis stopped: commands failed by ioredis's own `commandTimeout`
 * stay in its queue until an answer comes, so that option frees nothing; closing does.
 */
export function deadConnectionMs(timeoutMs: number = REDIS_TIMEOUT_MS): number {
  return Math.max(1000, 4 * timeoutMs);
}

export type RedisClient = Redis | Cluster;

// While Redis is away, a command fails at once (the limiter answers from insurance or denies)
// instead of waiting in a queue; the connection keeps retrying in the background.
// No auto-pipelining: the limiter already sends one command per bucket per loop turn, and the
// pipeline ioredis builds for each turn cost more CPU than it saved (profiled: 5.5% against 3.3%).
const FAIL_FAST = { maxRetriesPerRequest: 0, enableOfflineQueue: false } as const;
// ioredis's socketTimeout: no data for this long while commands wait closes the connection.
const dropDead = (target: RedisTarget) => ({ socketTimeout: deadConnectionMs(target.timeoutMs) });
const reconnectDelay = (times: number): number => Math.min(times * 100, 1000);

/** A client that fails fast while Redis is away and reconnects by itself. */
export function createRedisClient(target: RedisTarget, onError: (error: Error) => void): RedisClient {
  const ioredis = requireModule("ioredis") as typeof import("ioredis");
  const tls = target.tls === undefined ? undefined : tlsOptions(target.tls);
  let client: RedisClient;
  switch (target.mode) {
    case "standalone":
      client = new ioredis.Redis(target.url, { ...FAIL_FAST, ...dropDead(target), retryStrategy: reconnectDelay, ...(tls === undefined ? {} : { tls }) });
      break;
    case "sentinel":
      client = new ioredis.Redis({
        ...FAIL_FAST,
        ...dropDead(target),
        ...auth(target),
        // The master and the sentinels alike.
        ...(tls === undefined ? {} : { tls, sentinelTLS: tls, enableTLSForSentinelMode: true }),
        sentinels: target.sentinels.map(({ host, port }) => ({ host, port })),
        name: target.name,
        // Used when no sentinel answered: keep asking them, a master may be elected meanwhile.
        sentinelRetryStrategy: reconnectDelay,
        retryStrategy: reconnectDelay,
      });
      break;
    case "cluster": {
      const cluster = new ioredis.Cluster(
        target.nodes.map(({ host, port }) => ({ host, port })),
        {
          enableOfflineQueue: false,
          clusterRetryStrategy: reconnectDelay,
          redisOptions: { maxRetriesPerRequest: 0, ...dropDead(target), ...auth(target), ...(tls === undefined ? {} : { tls }) },
          // With TLS, a node given by name is dialled by that name, so its certificate is checked
          // against the name (ioredis would otherwise resolve it and check the address).
          ...(tls === undefined ? {} : { dnsLookup: (address: string, callback: (error: null, address: string) => void) => callback(null, address) }),
          // retryDelayOnFailover stays at its default: a command whose node connection closed
          // is retried after a slot-map refresh, which rides over connections replaced at start-up
          // and over failovers. Against a master that is really gone those retries last ~1.6 s;
          // the limiter stops waiting after its own timeout and answers from insurance.
        },
      );
      // Connections to the masters open lazily, on the first command for each; opened now, the
      // first requests after start-up are counted in Redis rather than timing out to insurance.
      cluster.on("ready", () => {
        for (const node of cluster.nodes("master")) node.ping().catch(() => undefined);
      });
      client = cluster;
      break;
    }
  }
  client.on("error", onError);
  return client;
}

function tlsOptions(tls: RedisTls): ConnectionOptions {
  return { minVersion: "TLSv1.2", ...(tls.ca === undefined ? {} : { ca: tls.ca }) };
}

function auth(target: RedisAuth): Pick<RedisOptions, "username" | "password"> {
  return {
    ...(target.username === undefined ? {} : { username: target.username }),
    ...(target.password === undefined ? {} : { password: target.password }),
  };
}
