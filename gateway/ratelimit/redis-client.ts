// Where Global rate limits are counted: one Redis, reached standalone (a URL), through Sentinel
// or as a Cluster. Plain data, so it crosses to worker threads; each thread makes its own client.
import { createRequire } from "node:module";
import type { Cluster, Redis } from "ioredis";

// ioredis is loaded only when a Redis is configured and a Global limit needs it.
const requireModule = createRequire(import.meta.url);

export type RedisTarget = { mode: "standalone"; url: string };

export type RedisClient = Redis | Cluster;

/** A client that fails fast while Redis is away and reconnects by itself. */
export function createRedisClient(target: RedisTarget, onError: (error: Error) => void): RedisClient {
  const { Redis: RedisCtor } = requireModule("ioredis") as typeof import("ioredis");
  const client = new RedisCtor(target.url, {
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: (times) => Math.min(times * 100, 1000),
  });
  client.on("error", onError);
  return client;
}
