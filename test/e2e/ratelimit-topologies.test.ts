// RateLimitPolicy end to end over the other Redis topologies: real `meshgate standalone`
// processes counting one Global limit in a real three-master Redis Cluster (--redis-cluster,
// MESHGATE_REDIS_CLUSTER), through a real Sentinel (--redis-sentinels), and in a TLS-only Redis
// (rediss:// with --redis-ca or MESHGATE_REDIS_CA).
import test from "ava";
import { startBackend } from "../support/backend.js";
import { basicConfig, configFolder, type RunningGateway, rateLimitPolicy, startMeshgate } from "../support/meshgate.js";
import { freePort, waitFor } from "../support/net.js";
import { type RedisAccess, redisCli, redisTlsFiles, startRedis, startRedisCluster, startRedisSentinel } from "../support/redis.js";

/** `total` GETs spread round-robin over `ports`, `concurrency` at a time; counts by status. */
async function spread(ports: number[], total: number, concurrency: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let next = 0;
  const lane = async () => {
    while (next < total) {
      const port = ports[next++ % ports.length] as number;
      const res = await fetch(`http://127.0.0.1:${port}/limited`);
      await res.arrayBuffer();
      counts[res.status] = (counts[res.status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return counts;
}

/** One gateway per entry of `redisSettings` (extra arguments and environment), all with the same limit. */
async function gateways(backendPort: number, requests: number, redisSettings: { args: string[]; env: Record<string, string> }[]) {
  const ports: number[] = [];
  const running: RunningGateway[] = [];
  for (const { args, env } of redisSettings) {
    const port = await freePort();
    const folder = configFolder();
    folder.write("gateway.yaml", basicConfig(port, [backendPort]) + rateLimitPolicy(requests, { name: "shared" }));
    ports.push(port);
    // Empty: a MESHGATE_REDIS_URL in the test's own environment must not add a second mode.
    const clean = { MESHGATE_REDIS_URL: "", MESHGATE_REDIS_CLUSTER: "", MESHGATE_REDIS_SENTINELS: "", MESHGATE_REDIS_TLS: "", MESHGATE_REDIS_CA: "" };
    running.push(await startMeshgate(folder.dir, [...args, "--instances", String(redisSettings.length), "--access-log", "off"], { ...clean, ...env }));
  }
  return { ports, running };
}

/**
 * Client connections to the Redis on `port` other than Sentinel's, ioredis's cluster refresher
 * (both named) and this redis-cli. A gateway reports ready before its Redis client is: the tests
 * wait for the connections, so the first requests are counted in Redis, not by insurance.
 */
async function clientConnections(port: number, access: RedisAccess = {}): Promise<number> {
  const clients = (await redisCli(port, ["client", "list"], access)).trim().split("\n");
  return clients.filter((line) => / name= /.test(line) && !/ cmd=client\|list /.test(line)).length;
}

test("three gateways on a Redis Cluster allow exactly the Global limit, counted in the cluster", async (t) => {
  const cluster = await startRedisCluster(t);
  const backend = await startBackend("one", false);
  const nodes = cluster.ports.map((port) => `127.0.0.1:${port}`);
  const { ports, running } = await gateways(backend.port, 100, [
    { args: ["--redis-cluster", nodes[0] as string], env: {} },
    { args: [], env: { MESHGATE_REDIS_CLUSTER: nodes.join(",") } },
    { args: ["--redis-cluster", [...nodes].reverse().join(",")], env: {} },
  ]);
  try {
    await waitFor(async () => {
      const perNode = await Promise.all(cluster.ports.map((port) => clientConnections(port)));
      return perNode.every((n) => n >= running.length);
    }, 8000, 50);
    const counts = await spread(ports, 1000, 20);
    t.log(`statuses: ${JSON.stringify(counts)}`);
    t.deepEqual(counts, { "200": 100, "429": 900 });
    t.is(backend.received.length, 100);
    // The counter is a key in the cluster, and no gateway fell back to insurance.
    const keys = await Promise.all(cluster.ports.map(async (port) => Number((await redisCli(port, ["dbsize"])).trim())));
    t.is(keys.reduce((a, b) => a + b, 0), 1);
    const metrics = (await Promise.all(running.map((g) => g.admin("/metrics")))).map((m) => m.text).join("\n");
    t.notRegex(metrics, /meshgate_ratelimit_fallback_total\{source="insurance"\} [1-9]/);
  } finally {
    for (const g of running) t.is(await g.stop(), 0);
    await backend.close();
  }
});

test("two gateways through a Sentinel allow exactly the Global limit, counted on the master", async (t) => {
  const { master, sentinel, name } = await startRedisSentinel(t);
  const backend = await startBackend("one", false);
  const sentinels = `127.0.0.1:${sentinel.port}`;
  const { ports, running } = await gateways(backend.port, 50, [
    { args: ["--redis-sentinels", sentinels, "--redis-sentinel-name", name], env: {} },
    { args: [], env: { MESHGATE_REDIS_SENTINELS: sentinels, MESHGATE_REDIS_SENTINEL_NAME: name } },
  ]);
  try {
    await waitFor(async () => (await clientConnections(master.port)) >= running.length, 8000, 50);
    const counts = await spread(ports, 300, 10);
    t.log(`statuses: ${JSON.stringify(counts)}`);
    t.deepEqual(counts, { "200": 50, "429": 250 });
    const keys = (await redisCli(master.port, ["keys", "meshgate-rl:*"])).trim().split("\n");
    t.is(keys.length, 1);
    t.true(Number((await redisCli(master.port, ["get", keys[0] as string])).trim()) >= 50);
    const metrics = (await Promise.all(running.map((g) => g.admin("/metrics")))).map((m) => m.text).join("\n");
    t.notRegex(metrics, /meshgate_ratelimit_fallback_total\{source="insurance"\} [1-9]/);
  } finally {
    for (const g of running) t.is(await g.stop(), 0);
    await backend.close();
  }
});

test("two gateways on a TLS-only Redis (rediss://, a private CA from a flag or the environment) allow exactly the Global limit", async (t) => {
  const tls = await redisTlsFiles(t);
  const server = await startRedis(t, { tls });
  const backend = await startBackend("one", false);
  const url = `rediss://127.0.0.1:${server.port}`;
  const { ports, running } = await gateways(backend.port, 50, [
    { args: ["--redis", url, "--redis-ca", tls.caFile], env: {} },
    { args: [], env: { MESHGATE_REDIS_URL: url, MESHGATE_REDIS_CA: tls.caFile } },
  ]);
  try {
    await waitFor(async () => (await clientConnections(server.port, server.access)) >= running.length, 8000, 50);
    const counts = await spread(ports, 300, 10);
    t.log(`statuses: ${JSON.stringify(counts)}`);
    t.deepEqual(counts, { "200": 50, "429": 250 });
    t.is(backend.received.length, 50);
    const keys = (await redisCli(server.port, ["keys", "meshgate-rl:*"], server.access)).trim().split("\n");
    t.is(keys.length, 1);
    t.true(Number((await redisCli(server.port, ["get", keys[0] as string], server.access)).trim()) >= 50);
    const metrics = (await Promise.all(running.map((g) => g.admin("/metrics")))).map((m) => m.text).join("\n");
    t.notRegex(metrics, /meshgate_ratelimit_fallback_total\{source="insurance"\} [1-9]/);
    t.notRegex(metrics, /meshgate_ratelimit_redis_errors_total\{[^}]*\} [1-9]/);
  } finally {
    for (const g of running) t.is(await g.stop(), 0);
    await backend.close();
  }
});
