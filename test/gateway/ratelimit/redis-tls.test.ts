// GlobalLimiter over clients made by createRedisClient for real TLS-only Redis servers (a
// standalone one, a Sentinel with its master, a three-master Cluster), their certificates from a
// test CA the client is told to trust. Managed Redis services (ElastiCache with in-transit
// encryption, Azure Cache for Redis) accept nothing else. And a Redis the client does not trust
// is never used.
import test, { type ExecutionContext } from "ava";
import { type Decision, GlobalLimiter } from "../../../gateway/ratelimit/limiter.js";
import { createRedisClient, type RedisClient, type RedisTarget } from "../../../gateway/ratelimit/redis-client.js";
import { waitFor } from "../../support/net.js";
import { redisCli, redisTlsFiles, startRedis, startRedisCluster, startRedisSentinel } from "../../support/redis.js";
import { makeCa } from "../../support/tls-certs.js";

// Generous: a loaded machine must not turn a slow answer into an insurance decision.
const redisTimeoutMs = 3000;
const perMinute = (requests: number) => ({ requests, unit: "Minute" as const });

function client(t: ExecutionContext, target: RedisTarget): { redis: RedisClient; errors: Error[] } {
  const errors: Error[] = [];
  const redis = createRedisClient(target, (error) => errors.push(error));
  t.teardown(() => redis.disconnect());
  return { redis, errors };
}

async function readyClient(t: ExecutionContext, target: RedisTarget): Promise<RedisClient> {
  const { redis, errors } = client(t, target);
  try {
    await waitFor(() => redis.status === "ready", 8000);
  } catch (error) {
    throw new Error(`client not ready (${redis.status}): ${errors.map((e) => e.message).join("; ")}`, { cause: error });
  }
  return redis;
}

async function consumeInOrder(limiter: GlobalLimiter, key: string, count: number): Promise<Decision[]> {
  const decisions: Decision[] = [];
  for (let i = 0; i < count; i++) decisions.push(await limiter.consume(key, 1));
  return decisions;
}

test("standalone over TLS (rediss://, a private CA): the count is kept in Redis", async (t) => {
  const tls = await redisTlsFiles(t);
  const server = await startRedis(t, { tls });
  const redis = await readyClient(t, { mode: "standalone", url: `rediss://127.0.0.1:${server.port}`, tls: { ca: tls.caPem } });
  const limiter = new GlobalLimiter({ limit: perMinute(5), redis, instances: 1, redisTimeoutMs, keyPrefix: "tls" });
  const decisions = await consumeInOrder(limiter, "k", 7);
  t.deepEqual(
    decisions.map((d) => [d.allowed, d.source]),
    // The fifth answer left nothing: the rest are denied from memory, without asking Redis.
    [[true, "redis"], [true, "redis"], [true, "redis"], [true, "redis"], [true, "redis"], [false, "memory"], [false, "memory"]],
  );
  t.is((await redisCli(server.port, ["get", "tls:k"], server.access)).trim(), "5");
});

test("a TLS Redis whose certificate is not trusted, or a plain-text client, is never used: insurance answers", async (t) => {
  const tls = await redisTlsFiles(t);
  const server = await startRedis(t, { tls });
  const otherCa = await makeCa("some other CA");
  const untrusted = client(t, { mode: "standalone", url: `rediss://127.0.0.1:${server.port}`, tls: { ca: otherCa.certPem } });
  const plain = client(t, { mode: "standalone", url: `redis://127.0.0.1:${server.port}` });
  await waitFor(() => untrusted.errors.length > 0 && plain.errors.length > 0, 5000);
  t.log(untrusted.errors[0]?.message, "|", plain.errors[0]?.message);
  t.regex(untrusted.errors[0]?.message ?? "", /self[- ]signed|unable to verify|certificate/i);
  for (const { redis } of [untrusted, plain]) {
    t.not(redis.status, "ready");
    const limiter = new GlobalLimiter({ limit: perMinute(10), redis, instances: 2, redisTimeoutMs: 300, keyPrefix: "tls" });
    t.like(await limiter.consume("k", 1), { allowed: true, remaining: 4, source: "insurance" });
  }
  // Nothing reached the server's keyspace.
  t.is((await redisCli(server.port, ["dbsize"], server.access)).trim(), "0");
});

test("Sentinel over TLS: the sentinel and the master are both reached over TLS, with a password", async (t) => {
  const tls = await redisTlsFiles(t);
  const password = "s3cret-pass";
  const { master, sentinel, name } = await startRedisSentinel(t, { password, tls });
  const redis = await readyClient(t, {
    mode: "sentinel",
    sentinels: [{ host: "127.0.0.1", port: sentinel.port }],
    name,
    password,
    tls: { ca: tls.caPem },
  });
  const limiter = new GlobalLimiter({ limit: perMinute(3), redis, instances: 1, redisTimeoutMs, keyPrefix: "tls-sent" });
  const decisions = await consumeInOrder(limiter, "k", 4);
  t.deepEqual(decisions.map((d) => [d.allowed, d.source]), [[true, "redis"], [true, "redis"], [true, "redis"], [false, "memory"]]);
  t.is((await redisCli(master.port, ["get", "tls-sent:k"], master.access)).trim(), "3");
});

test("Cluster over TLS: keys spread over the three masters, each counted exactly", async (t) => {
  const tls = await redisTlsFiles(t);
  const cluster = await startRedisCluster(t, { tls });
  // Given one node by address; the others are discovered and dialled over TLS too.
  const first = cluster.nodes[0];
  if (first === undefined) throw new Error("no node");
  const redis = await readyClient(t, { mode: "cluster", nodes: [{ host: "127.0.0.1", port: first.port }], tls: { ca: tls.caPem } });
  const limiter = new GlobalLimiter({ limit: perMinute(4), redis, instances: 1, redisTimeoutMs, keyPrefix: "tls-cl" });
  const keys = Array.from({ length: 9 }, (_, i) => `user-${i}`);
  const allowed = await Promise.all(keys.map(async (key) => (await consumeInOrder(limiter, key, 6)).filter((d) => d.allowed && d.source === "redis").length));
  t.deepEqual(allowed, keys.map(() => 4));
  const perMaster = await Promise.all(cluster.nodes.map(async (node) => Number((await redisCli(node.port, ["dbsize"], node.access)).trim())));
  t.log("keys per master", perMaster.join(" "));
  t.true(perMaster.every((n) => n > 0));
  t.is(perMaster.reduce((a, b) => a + b, 0), keys.length);
});
