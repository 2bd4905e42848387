// GlobalLimiter over clients made by createRedisClient for a real Redis Cluster (three masters)
// and a real Sentinel in front of one master: the counts land in Redis and are shared.
import test, { type ExecutionContext } from "ava";
import { type Decision, GlobalLimiter } from "../../../gateway/ratelimit/limiter.js";
import { createRedisClient, type RedisClient, type RedisTarget } from "../../../gateway/ratelimit/redis-client.js";
import { waitFor } from "../../support/net.js";
import { redisCli, startRedisCluster, startRedisSentinel } from "../../support/redis.js";

// Generous: a loaded machine must not turn a slow answer into an insurance decision.
const redisTimeoutMs = 3000;
const perMinute = (requests: number) => ({ requests, unit: "Minute" as const });

async function readyClient(t: ExecutionContext, target: RedisTarget): Promise<RedisClient> {
  const errors: Error[] = [];
  const client = createRedisClient(target, (error) => errors.push(error));
  t.teardown(() => client.disconnect());
  try {
    await waitFor(() => client.status === "ready", 8000);
  } catch (error) {
    throw new Error(`client not ready (${client.status}): ${errors.map((e) => e.message).join("; ")}`, { cause: error });
  }
  return client;
}

function sources(decisions: Decision[]): Set<string> {
  return new Set(decisions.map((d) => d.source));
}

test("Cluster: two clients share each key's count, keys spread over all three masters", async (t) => {
  const cluster = await startRedisCluster(t);
  const [first, second, third] = cluster.ports as [number, number, number];
  // One client discovers the cluster from a single node, the other is given all of them.
  const clients = [
    await readyClient(t, { mode: "cluster", nodes: [{ host: "127.0.0.1", port: first }] }),
    await readyClient(t, { mode: "cluster", nodes: [second, third, first].map((port) => ({ host: "127.0.0.1", port })) }),
  ];
  // instances: 1, so an insurance answer would allow the limit per client and show as 2 x limit.
  const limiters = clients.map((redis) => new GlobalLimiter({ limit: perMinute(20), redis, instances: 1, redisTimeoutMs, keyPrefix: "topo" }));
  const keys = Array.from({ length: 12 }, (_, i) => `route|user-${i}`);
  const decisions = await Promise.all(
    keys.flatMap((key) =>
      Array.from({ length: 60 }, (_, i) => (limiters[i % 2] as GlobalLimiter).consume(key, 1).then((d) => ({ key, d }))),
    ),
  );
  const allowedPerKey = keys.map((key) => decisions.filter((r) => r.key === key && r.d.allowed).length);
  t.log("allowed per key", allowedPerKey.join(" "), "sources", [...sources(decisions.map((r) => r.d))].join(","));
  t.deepEqual(allowedPerKey, keys.map(() => 20));
  t.true([...sources(decisions.map((r) => r.d))].every((s) => s === "redis" || s === "memory"));

  // Each master holds some of the counters, and together exactly one per key.
  const perMaster = await Promise.all(cluster.ports.map(async (port) => Number((await redisCli(port, ["dbsize"])).trim())));
  t.log("keys per master", perMaster.join(" "));
  t.true(perMaster.every((n) => n > 0));
  t.is(perMaster.reduce((a, b) => a + b, 0), keys.length);
  // The counter of one key, read through the cluster (-c follows MOVED): every consume that
  // reached Redis was counted there, at least the limit.
  const counted = Number((await redisCli(first, ["-c", "get", "topo:route|user-0"])).trim());
  t.true(counted >= 20 && counted <= 60, `counted ${counted}`);
});

test("Cluster: a master killed: its keys answered by insurance within the timeout, the others stay in Redis; restarted, it counts again", async (t) => {
  const cluster = await startRedisCluster(t);
  const redis = await readyClient(t, { mode: "cluster", nodes: cluster.ports.map((port) => ({ host: "127.0.0.1", port })) });
  // ioredis retries a closed node connection for ~1.6 s: the limiter's timeout bounds the wait.
  const limiter = new GlobalLimiter({ limit: perMinute(10), redis, instances: 2, redisTimeoutMs: 300, keyPrefix: "kill" });
  const victim = cluster.nodes[0];
  if (victim === undefined) throw new Error("no node");
  const shards = await redisCli(victim.port, ["cluster", "slots"]);
  const onVictim = async (key: string) => {
    const slot = Number((await redisCli(victim.port, ["cluster", "keyslot", `kill:${key}`])).trim());
    return ownsSlot(shards, victim.port, slot);
  };
  let victimKey: string | undefined;
  let otherKey: string | undefined;
  for (let i = 0; victimKey === undefined || otherKey === undefined; i++) {
    const key = `k${i}`;
    if (await onVictim(key)) victimKey ??= key;
    else otherKey ??= key;
  }
  t.like(await limiter.consume(victimKey, 1), { allowed: true, remaining: 9, source: "redis" });
  await victim.kill();
  const timed: { ms: number; d: Decision }[] = [];
  for (let i = 0; i < 3; i++) {
    const started = Date.now();
    const d = await limiter.consume(victimKey, 1);
    timed.push({ ms: Date.now() - started, d });
  }
  const elsewhere = await limiter.consume(otherKey, 1);
  t.log({ victimKey, otherKey }, timed.map(({ ms, d }) => `${d.source}/${d.remaining} in ${ms} ms`).join(", "));
  // Insurance allows limit / instances = 5 on its own count.
  t.deepEqual(timed.map(({ d }) => [d.source, d.allowed, d.remaining]), [["insurance", true, 4], ["insurance", true, 3], ["insurance", true, 2]]);
  t.true(timed.every(({ ms }) => ms < 800), "answered once the limiter's timeout passed");
  t.like(elsewhere, { allowed: true, remaining: 9, source: "redis" });

  // Same port, same node identity (nodes-P.conf), no data: its slots count again from zero.
  await victim.restart();
  await waitFor(async () => (await redisCli(victim.port, ["cluster", "info"])).includes("cluster_state:ok"), 8000, 100);
  let resumed: Decision | undefined;
  await waitFor(async () => {
    resumed = await limiter.consume(victimKey, 1);
    return resumed.source === "redis";
  }, 8000, 100);
  t.like(resumed, { allowed: true, remaining: 9, source: "redis" });
});

/** Whether `port` serves `slot`, from `redis-cli cluster slots` output (start, end, ip, port, id ...). */
function ownsSlot(output: string, port: number, slot: number): boolean {
  const lines = output.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  for (let i = 0; i + 3 < lines.length; i++) {
    const start = Number(lines[i]);
    const end = Number(lines[i + 1]);
    if (lines[i + 2] === "127.0.0.1" && Number(lines[i + 3]) === port && slot >= start && slot <= end) return true;
  }
  return false;
}

test("Sentinel: the client asks the Sentinel for the master and counts there (with a password)", async (t) => {
  const password = "s3cret-pass";
  const { master, sentinel, name } = await startRedisSentinel(t, { password });
  // The client is told only where the Sentinel is; the master's port comes from it.
  const redis = await readyClient(t, { mode: "sentinel", sentinels: [{ host: "127.0.0.1", port: sentinel.port }], name, password });
  const limiters = [1, 2].map(() => new GlobalLimiter({ limit: perMinute(5), redis, instances: 1, redisTimeoutMs, keyPrefix: "sent" }));
  const decisions: Decision[] = [];
  for (let i = 0; i < 8; i++) decisions.push(await (limiters[i % 2] as GlobalLimiter).consume("shared", 1));
  t.log(decisions.map((d) => `${d.allowed ? "allow" : "deny"}/${d.source}/${d.remaining}`).join(" "));
  t.deepEqual(decisions.map((d) => d.allowed), [true, true, true, true, true, false, false, false]);
  t.deepEqual(
    decisions.map((d) => [d.source, d.remaining]),
    [["redis", 4], ["redis", 3], ["redis", 2], ["redis", 1], ["redis", 0], ["redis", 0], ["memory", 0], ["memory", 0]],
  );
  // The counter is on the master, with the window's expiry. Six consumes reached it: the second
  // limiter learns the bucket is exhausted only from its own sixth-call answer.
  t.is((await redisCli(master.port, ["get", "sent:shared"], { password })).trim(), "6");
  const ttl = Number((await redisCli(master.port, ["ttl", "sent:shared"], { password })).trim());
  t.true(ttl > 0 && ttl <= 60, `ttl ${ttl}`);
});

test("Sentinel: an unknown master name never becomes ready; insurance answers after one wait for the first connection, then at once", async (t) => {
  const { sentinel } = await startRedisSentinel(t);
  const errors: Error[] = [];
  const redis = createRedisClient(
    { mode: "sentinel", sentinels: [{ host: "127.0.0.1", port: sentinel.port }], name: "no-such-master" },
    (error) => errors.push(error),
  );
  t.teardown(() => redis.disconnect());
  await waitFor(() => errors.length > 0, 5000);
  // A client that never connected is waited for once, up to the timeout, so that requests right
  // after start are counted in Redis when it is merely slow to connect.
  const limiter = new GlobalLimiter({ limit: perMinute(10), redis, instances: 2, redisTimeoutMs: 300 });
  let started = Date.now();
  const first = await limiter.consume("k", 1);
  const firstMs = Date.now() - started;
  started = Date.now();
  const second = await limiter.consume("k", 1);
  const secondMs = Date.now() - started;
  t.log(errors[0]?.message, `first ${firstMs} ms, second ${secondMs} ms`);
  t.not(redis.status, "ready");
  t.like(first, { allowed: true, remaining: 4, source: "insurance" });
  t.like(second, { allowed: true, remaining: 3, source: "insurance" });
  t.true(firstMs >= 250 && firstMs < 1500);
  t.true(secondMs < 250);
});
