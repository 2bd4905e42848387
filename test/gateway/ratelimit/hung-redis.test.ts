// A hung Redis (SIGSTOP: connection open, no answers) against a real redis-server: what the
// limiters keep in memory stays bounded. The cap on commands in flight answers at once past it;
// a timed-out call holds nothing of its requests; a connection that answers nothing is given up.
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import test, { type ExecutionContext } from "ava";
import { Redis } from "ioredis";
import { type Decision, GlobalLimiter, type RedisCallResult, RedisInFlight } from "../../../gateway/ratelimit/limiter.js";
import { createRedisClient, deadConnectionMs } from "../../../gateway/ratelimit/redis-client.js";
import { type RedisServer, startRedis } from "../../support/redis.js";
import { waitFor } from "../../support/net.js";

const perMinute = (requests: number) => ({ requests, unit: "Minute" as const });

/** A plain client that never gives its connection up, as the cap alone must hold without that. */
async function plainClient(t: ExecutionContext, server: RedisServer): Promise<Redis> {
  const redis = new Redis({ host: "127.0.0.1", port: server.port, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 50 });
  redis.on("error", () => undefined);
  t.teardown(() => redis.disconnect());
  await waitFor(() => redis.status === "ready", 5000);
  return redis;
}

/** SIGSTOP now; SIGCONT returned (and at teardown, whatever happens). */
function freeze(t: ExecutionContext, server: RedisServer): () => void {
  const pid = server.pid() as number;
  const resume = (): void => {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // already gone
    }
  };
  process.kill(pid, "SIGSTOP");
  t.teardown(resume);
  return resume;
}

function tally(results: RedisCallResult[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

async function timed(limiter: GlobalLimiter, key: string): Promise<{ ms: number; decision: Decision }> {
  const started = performance.now();
  const decision = await limiter.consume(key, 1);
  return { ms: performance.now() - started, decision };
}

test("past the in-flight cap a hung Redis gets no more commands: answered at once (insurance, or denied when failing closed), counted as overloaded; the cap is shared; SIGCONT frees it", async (t) => {
  const server = await startRedis(t);
  const redis = await plainClient(t, server);
  const inFlight = new RedisInFlight(8);
  const calls: RedisCallResult[] = [];
  const onRedisCall = (_seconds: number, result: RedisCallResult): void => void calls.push(result);
  const common = { redis, instances: 2, redisTimeoutMs: 200, inFlight, onRedisCall };
  const open = new GlobalLimiter({ ...common, limit: perMinute(10), keyPrefix: "cap-open" });
  const closed = new GlobalLimiter({ ...common, limit: perMinute(10), keyPrefix: "cap-closed", failClosed: true });
  t.like(await open.consume("before", 1), { source: "redis" });
  t.like(await closed.consume("before", 1), { source: "redis" });
  calls.length = 0;

  const resume = freeze(t, server);
  // Five keys on one limiter and three on the other fill the shared cap of 8; each waits the timeout.
  const filling = await Promise.all([
    ...[0, 1, 2, 3, 4].map((i) => timed(open, `fill-${i}`)),
    ...[0, 1, 2].map((i) => timed(closed, `fill-${i}`)),
  ]);
  t.deepEqual(filling.map((f) => f.decision.source), [...Array(5).fill("insurance"), ...Array(3).fill("fail-closed")]);
  t.true(filling.every((f) => f.ms >= 190), filling.map((f) => f.ms.toFixed(0)).join(" "));
  t.is(inFlight.size, 8);
  t.deepEqual(tally(calls), { timeout: 8 });

  // Past the cap: new keys on either limiter are answered without a command, so without waiting.
  const past = [];
  for (let i = 0; i < 10; i++) past.push(await timed(open, `past-${i}`), await timed(closed, `past-${i}`));
  t.log(`filling: ${filling.map((f) => f.ms.toFixed(0)).join(" ")} ms; past the cap: ${past.map((p) => p.ms.toFixed(0)).join(" ")} ms`);
  t.deepEqual(past.map((p) => [p.decision.source, p.decision.allowed]), Array.from({ length: 10 }, () => [["insurance", true], ["fail-closed", false]]).flat());
  // Waiting would take the whole 200 ms timeout; a loaded machine adds milliseconds, not that many.
  t.true(past.every((p) => p.ms < 190), past.map((p) => p.ms.toFixed(0)).join(" "));
  t.deepEqual(tally(calls), { timeout: 8, overloaded: 20 });
  t.is(inFlight.size, 8);

  // Redis answers the eight commands: the cap is free again and keys are counted in Redis.
  resume();
  await waitFor(() => inFlight.size === 0, 10_000, 20);
  t.like(await open.consume("after", 1), { source: "redis", remaining: 9 });
  t.like(await closed.consume("after", 1), { source: "redis", allowed: true });
});

test("once a call has timed out, nothing of its requests stays referenced while the command still waits in the client", async (t) => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const server = await startRedis(t);
  const redis = await plainClient(t, server);
  const inFlight = new RedisInFlight(1000);
  const limiter = new GlobalLimiter({ limit: perMinute(10), redis, instances: 1, redisTimeoutMs: 100, inFlight, keyPrefix: "refs" });
  t.like(await limiter.consume("before", 1), { source: "redis" });
  freeze(t, server);

  // Each request's callback holds a request-sized object, as the data plane's callbacks hold the
  // request and its response; the test keeps only weak references to them.
  const requests = 200;
  const held: WeakRef<object>[] = [];
  const answered = await new Promise<number>((resolve) => {
    let count = 0;
    for (let i = 0; i < requests; i++) {
      const request = { key: `k-${i}`, body: new Uint8Array(4096) };
      held.push(new WeakRef(request));
      limiter.decide(request.key, 1, (decision) => {
        if (decision.source === "insurance" && request.body.length === 4096) count++;
        if (count === requests) resolve(count);
      });
    }
  });
  t.is(answered, requests);
  // Redis still holds every command (no answer, connection open).
  t.is(inFlight.size, requests);
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  const alive = held.filter((ref) => ref.deref() !== undefined).length;
  t.is(alive, 0, `${alive} of ${requests} requests still referenced`);
  t.is(inFlight.size, requests);
});

test("a connection that answers nothing is given up: its commands fail and the cap is free with Redis still stopped; later keys are answered at once; SIGCONT: counted in Redis again", async (t) => {
  const server = await startRedis(t);
  const redisTimeoutMs = 100;
  const redis = createRedisClient({ mode: "standalone", url: `redis://127.0.0.1:${server.port}`, timeoutMs: redisTimeoutMs }, () => undefined);
  t.teardown(() => redis.disconnect());
  await waitFor(() => redis.status === "ready", 5000);
  const inFlight = new RedisInFlight(1000);
  const calls: RedisCallResult[] = [];
  const limiter = new GlobalLimiter({
    limit: perMinute(10),
    redis,
    instances: 2,
    redisTimeoutMs,
    inFlight,
    keyPrefix: "dead",
    onRedisCall: (_seconds, result) => void calls.push(result),
  });
  t.like(await limiter.consume("before", 1), { source: "redis" });
  calls.length = 0;

  const resume = freeze(t, server);
  const stoppedAt = performance.now();
  const first = await Promise.all(Array.from({ length: 50 }, (_, i) => limiter.consume(`k-${i}`, 1)));
  t.true(first.every((d) => d.source === "insurance"));
  t.is(inFlight.size, 50);
  // Nothing came back for deadConnectionMs: the client closes the connection and fails the 50.
  await waitFor(() => inFlight.size === 0, 10_000, 20);
  const givenUpMs = performance.now() - stoppedAt;
  t.log(`connection given up after ${givenUpMs.toFixed(0)} ms with Redis stopped (deadConnectionMs ${deadConnectionMs(redisTimeoutMs)})`);
  t.true(givenUpMs >= deadConnectionMs(redisTimeoutMs) - 50);
  t.not(redis.status, "ready");
  const later = await timed(limiter, "later");
  t.like(later.decision, { source: "insurance" });
  t.true(later.ms < 90, `${later.ms.toFixed(0)} ms`);
  t.deepEqual(tally(calls), { timeout: 50, unavailable: 1 });

  resume();
  let resumed: Decision | undefined;
  await waitFor(async () => {
    resumed = await limiter.consume("resumed", 1);
    return resumed.source === "redis";
  }, 15_000, 50);
  t.like(resumed, { source: "redis", allowed: true });
});
