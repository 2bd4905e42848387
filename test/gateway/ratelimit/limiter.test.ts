// Limiters against a real redis-server on loopback: shared counting, outage, recovery.
import test, { type ExecutionContext } from "ava";
import { Redis } from "ioredis";
import { BlockedKeys, type Decision, GlobalLimiter, LocalLimiter } from "../../../gateway/ratelimit/limiter.js";
import { type RedisServer, startRedis } from "../../support/redis.js";
import { waitFor } from "../../support/net.js";

const perMinute = (requests: number) => ({ requests, unit: "Minute" as const });
// Generous: a loaded test machine must not turn a slow answer into an insurance decision.
// Outages are still detected at once (closed connection, client not ready), not by this timeout.
const redisTimeoutMs = 3000;

async function client(t: ExecutionContext, server: RedisServer): Promise<Redis> {
  const redis = new Redis({
    host: "127.0.0.1",
    port: server.port,
    // Fail fast while Redis is away; reconnect quickly when it returns.
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => 50,
  });
  // Connection errors are expected during the outage tests; the limiter reports them as sources.
  redis.on("error", () => undefined);
  t.teardown(() => redis.disconnect());
  await waitFor(() => redis.status === "ready", 5000);
  return redis;
}

async function allReady(clients: Redis[]): Promise<void> {
  await waitFor(() => clients.every((c) => c.status === "ready"), 10_000);
}

function tally(decisions: Decision[]): Record<string, number> {
  const counts: Record<string, number> = { allowed: 0, denied: 0 };
  for (const d of decisions) {
    counts[d.allowed ? "allowed" : "denied"] = (counts[d.allowed ? "allowed" : "denied"] ?? 0) + 1;
    counts[`source:${d.source}`] = (counts[`source:${d.source}`] ?? 0) + 1;
  }
  return counts;
}

test("LocalLimiter counts in memory and reports the window", async (t) => {
  const limiter = new LocalLimiter({ requests: 3, unit: "Second" });
  const first = await limiter.consume("k", 1);
  t.like(first, { allowed: true, limit: 3, remaining: 2, source: "memory" });
  t.true(first.resetMs > 0 && first.resetMs <= 1000);
  t.like(await limiter.consume("k", 2), { allowed: true, remaining: 0 });
  t.like(await limiter.consume("k", 1), { allowed: false, remaining: 0, source: "memory" });
  t.like(await limiter.consume("other", 1), { allowed: true, remaining: 2 });
});

test("three GlobalLimiters sharing one Redis allow exactly the limit", async (t) => {
  const server = await startRedis(t);
  const clients = await Promise.all([client(t, server), client(t, server), client(t, server)]);
  const limiters = clients.map((redis) => new GlobalLimiter({ limit: perMinute(100), redis, instances: 3, redisTimeoutMs }));
  const calls = Array.from({ length: 1000 }, (_, i) => {
    const index = i % limiters.length;
    return (limiters[index] as GlobalLimiter).consume("policy/rule|0=shared", 1).then((d) => ({ index, d }));
  });
  const results = await Promise.all(calls);
  const decisions = results.map((r) => r.d);
  const perInstance = limiters.map((_, i) => results.filter((r) => r.index === i && r.d.allowed).length);
  t.log("total", tally(decisions));
  t.log("allowed per instance", perInstance);
  t.is(decisions.filter((d) => d.allowed).length, 100);
  t.true(decisions.every((d) => d.source === "redis" || d.source === "memory"));
  t.true(decisions.every((d) => d.limit === 100 && d.remaining >= 0));
  // Once a bucket is exhausted, each instance answers it from memory without a Redis round trip.
  for (const limiter of limiters) t.like(await limiter.consume("policy/rule|0=shared", 1), { allowed: false, source: "memory" });
});

test("Redis outage: insurance answers, then global counting resumes on the same limiters", async (t) => {
  const server = await startRedis(t);
  const clients = await Promise.all([client(t, server), client(t, server), client(t, server)]);
  const limiters = clients.map((redis) => new GlobalLimiter({ limit: perMinute(100), redis, instances: 3, redisTimeoutMs }));
  const decisions: Decision[] = [];
  let stop = false;
  let thrown = 0;
  const load = (async () => {
    for (let i = 0; !stop; i++) {
      try {
        decisions.push(await (limiters[i % 3] as GlobalLimiter).consume("outage", 1));
      } catch {
        thrown++;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  await waitFor(() => decisions.length >= 20);
  // Decisions recorded before the kill is issued all came from Redis; one in flight may not.
  const atKill = decisions.length;
  await server.kill();
  await waitFor(() => decisions.slice(atKill).filter((d) => d.source === "insurance").length >= 10);
  stop = true;
  await load;
  const during = decisions.slice(atKill);
  t.log("before kill", tally(decisions.slice(0, atKill)), "after kill", tally(during));
  t.is(thrown, 0);
  t.true(decisions.slice(0, atKill).every((d) => d.source === "redis" && d.allowed));
  t.true(during.some((d) => d.source === "insurance" && d.allowed));
  // Insurance allows limit / instances per instance: 33 here.
  for (const limiter of limiters) {
    const d = await limiter.consume("insurance-share", 33);
    t.like(d, { allowed: true, remaining: 0, source: "insurance" });
    t.like(await limiter.consume("insurance-share", 1), { allowed: false, source: "insurance" });
  }

  await server.restart();
  await allReady(clients);
  const resumed = await Promise.all(limiters.map((limiter) => limiter.consume("after-restart", 1)));
  t.log("after restart", tally(resumed));
  t.true(resumed.every((d) => d.source === "redis" && d.allowed));
  // One shared counter again: three consumes on three instances, one Redis key.
  t.deepEqual(resumed.map((d) => d.remaining).sort(), [97, 98, 99]);
});

test("Redis outage with failClosed: denied, then allowed from Redis again", async (t) => {
  const server = await startRedis(t);
  const redis = await client(t, server);
  const limiter = new GlobalLimiter({ limit: perMinute(100), redis, instances: 3, failClosed: true, redisTimeoutMs });
  t.like(await limiter.consume("fc", 1), { allowed: true, remaining: 99, source: "redis" });
  await server.kill();
  const down = await Promise.all(Array.from({ length: 20 }, () => limiter.consume("fc", 1)));
  t.log("while down", tally(down));
  t.true(down.every((d) => !d.allowed && d.source === "fail-closed" && d.resetMs > 0));
  await server.restart();
  await allReady([redis]);
  // The restarted Redis kept no data (--save ''), so the window starts afresh.
  t.like(await limiter.consume("fc", 1), { allowed: true, remaining: 99, source: "redis" });
});

test("a hung Redis (SIGSTOP) is cut off by the timeout and answered by insurance, without waiting again while the call is overdue", async (t) => {
  const server = await startRedis(t);
  const redis = await client(t, server);
  const limiter = new GlobalLimiter({ limit: perMinute(100), redis, instances: 4, redisTimeoutMs: 200 });
  t.like(await limiter.consume("hung", 1), { source: "redis" });
  const pid = server.pid() as number;
  process.kill(pid, "SIGSTOP");
  t.teardown(() => {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // already gone
    }
  });
  const timed = async (key: string) => {
    const started = Date.now();
    const decision = await limiter.consume(key, 1);
    return { ms: Date.now() - started, decision };
  };
  const first = await timed("hung");
  t.like(first.decision, { allowed: true, remaining: 24, source: "insurance" });
  t.true(first.ms >= 190 && first.ms < 1500, `${first.ms} ms`);
  // That call is overdue: later requests for the key do not wait for Redis again.
  const later = [];
  for (let i = 0; i < 10; i++) later.push(await timed("hung"));
  t.log(`first ${first.ms} ms, then ${later.map((l) => l.ms).join(" ")} ms`);
  t.deepEqual(later.map((l) => [l.decision.source, l.decision.remaining]), Array.from({ length: 10 }, (_, i) => ["insurance", 23 - i]));
  // Waiting again would take the whole 200 ms timeout; a loaded machine adds milliseconds, not that many.
  t.true(later.every((l) => l.ms < 190), later.map((l) => l.ms).join(" "));
  // Another key's first call is not overdue: it waits the timeout once, like the first.
  const other = await timed("other");
  t.like(other.decision, { source: "insurance" });
  t.true(other.ms >= 190, `${other.ms} ms`);

  // Redis resumes and answers the overdue calls: the keys are counted in Redis again.
  process.kill(pid, "SIGCONT");
  let resumed: Decision | undefined;
  await waitFor(async () => {
    resumed = await limiter.consume("hung", 1);
    return resumed.source === "redis";
  }, 5000, 20);
  // 1 before the freeze, 1 late (the overdue call), this one, and any probe that raced the answer.
  t.like(resumed, { allowed: true, source: "redis" });
  t.true((resumed?.remaining ?? 0) >= 95 && (resumed?.remaining ?? 0) <= 97, `remaining ${resumed?.remaining}`);
});

test("requests for a key in one turn share one Redis increment and its slots, in arrival order, with their costs", async (t) => {
  const server = await startRedis(t);
  const redis = await client(t, server);
  const calls: string[] = [];
  const limiter = new GlobalLimiter({
    limit: perMinute(10),
    redis,
    instances: 1,
    redisTimeoutMs,
    onRedisCall: (_s, result) => calls.push(result),
  });
  // Costs 3, 1, 4, 2, 1 in one turn: 3+1+4+2 = 10 fit, the last one is the 11th point.
  const decisions = await Promise.all([3, 1, 4, 2, 1].map((cost) => limiter.consume("k", cost)));
  t.deepEqual(
    decisions.map((d) => [d.allowed, d.remaining, d.source]),
    [
      [true, 7, "redis"],
      [true, 6, "redis"],
      [true, 2, "redis"],
      [true, 0, "redis"],
      [false, 0, "redis"],
    ],
  );
  t.deepEqual(calls, ["ok"]);
  t.is(await redis.get("meshgate-rl:k"), "11");
  // The key is full: the next request is answered from memory, without a Redis call.
  t.like(await limiter.consume("k", 1), { allowed: false, source: "memory" });
  t.deepEqual(calls, ["ok"]);
});

test("blocked keys answer until their window ends; expired ones are swept as the map grows", (t) => {
  const blocked = new BlockedKeys();
  blocked.block("a", 1_000, 0);
  t.is(blocked.msLeft("a", 400), 600);
  t.is(blocked.msLeft("a", 1_000), 0);
  t.is(blocked.msLeft("never", 0), 0);
  // 5000 Distinct keys blocked for 1 s each, one per millisecond: the map never holds many more
  // than are live, instead of growing with every key an attacker invents.
  let most = 0;
  for (let i = 0; i < 5000; i++) {
    blocked.block(`k${i}`, i + 1_000, i);
    most = Math.max(most, blocked.size);
  }
  t.true(most <= 2048, `most ${most}`);
  t.is(blocked.msLeft("k4999", 5_000), 999);
});

/** `perLimiter` requests to each limiter in one turn, for `turns` turns; the decisions in order. */
async function turns(limiters: GlobalLimiter[], key: string, perLimiter: number, count: number): Promise<Decision[]> {
  const all: Decision[] = [];
  for (let turn = 0; turn < count; turn++) {
    const calls = limiters.flatMap((l) => Array.from({ length: perLimiter }, () => l.consume(key, 1)));
    all.push(...(await Promise.all(calls)));
    await new Promise((resolve) => setImmediate(resolve));
  }
  return all;
}

/** Two GlobalLimiters on one fresh Redis, each with its own client, and their Redis call count. */
async function twoInstances(t: ExecutionContext, requests: number) {
  const server = await startRedis(t);
  const clients = await Promise.all([client(t, server), client(t, server)]);
  const counter = { calls: 0 };
  const limiters = clients.map(
    (redis) => new GlobalLimiter({ limit: perMinute(requests), redis, instances: 2, redisTimeoutMs, onRedisCall: () => counter.calls++ }),
  );
  return { clients, limiters, counter };
}

test("a busy key far from its limit leases spare slots: few Redis calls, and Redis counts every allowed request plus the unused lease", async (t) => {
  const { clients, limiters, counter } = await twoInstances(t, 1_000_000);
  const decisions = await turns(limiters, "busy", 20, 100);
  const calls = counter.calls;
  const allowed = decisions.filter((d) => d.allowed).length;
  const leased = limiters.reduce((sum, l) => sum + l.leasedSlots("busy"), 0);
  t.log(`4000 requests in 100 turns: ${calls} Redis calls, ${leased} slots leased and unused`);
  t.is(allowed, 4000);
  t.true(decisions.every((d) => d.source === "redis" && d.remaining > 990_000 && d.resetMs > 0));
  // Without leases every turn of each limiter would be one call: 200.
  t.true(calls <= 40, `${calls} calls`);
  t.true(leased > 0);
  t.is(Number(await clients[0]?.get("meshgate-rl:busy")), allowed + leased);

  // A quiet key (one request a turn) is counted request by request, and keeps no lease.
  await turns(limiters.slice(0, 1), "quiet", 1, 20);
  t.is(limiters[0]?.leasedSlots("quiet"), 0);
  t.is(await clients[0]?.get("meshgate-rl:quiet"), "20");
});

test("leases never let instances allow more than the limit, and with traffic going on none are left unused", async (t) => {
  // 20000 per minute over two instances: the first leases are up to 100 slots (1/100 of the room
  // per instance), shrinking to none near the limit.
  const { limiters, counter } = await twoInstances(t, 20_000);
  const decisions = await turns(limiters, "shared", 50, 240);
  const calls = counter.calls;
  const allowed = decisions.filter((d) => d.allowed).length;
  t.log(`${decisions.length} requests: ${allowed} allowed, ${calls} Redis calls`);
  t.is(allowed, 20_000);
  t.is(limiters[0]?.leasedSlots("shared"), 0);
  t.is(limiters[1]?.leasedSlots("shared"), 0);
  t.true(calls < 240 * 2, `${calls} calls`);
  // Past the limit both answer from memory.
  for (const limiter of limiters) t.like(await limiter.consume("shared", 1), { allowed: false, source: "memory" });
});
