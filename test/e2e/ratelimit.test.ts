// RateLimitPolicy end to end: three real `meshgate standalone` processes share one Global limit
// through one real redis-server, and keep answering (from insurance) while Redis is away or hung.
import test from "ava";
import { startBackend } from "../support/backend.js";
import { basicConfig, configFolder, type RunningGateway, rateLimitPolicy, startMeshgate } from "../support/meshgate.js";
import { freePort } from "../support/net.js";
import { startRedis } from "../support/redis.js";

interface Answer {
  status: number;
  retryAfter: string | null;
  rateLimit: string | null;
}

/** `total` GETs spread round-robin over `ports`, at most `concurrency` at a time. */
async function spread(ports: number[], total: number, concurrency: number, path: string): Promise<Answer[]> {
  const answers: Answer[] = [];
  let next = 0;
  const lane = async () => {
    while (next < total) {
      const port = ports[next++ % ports.length] as number;
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      await res.arrayBuffer();
      answers.push({
        status: res.status,
        retryAfter: res.headers.get("retry-after"),
        rateLimit: res.headers.get("ratelimit"),
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return answers;
}

function countBy(answers: Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of answers) counts[a.status] = (counts[a.status] ?? 0) + 1;
  return counts;
}

async function threeGateways(redisPort: number, backendPort: number, requests: number) {
  const ports: number[] = [];
  const gateways: RunningGateway[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const folder = configFolder();
    folder.write("gateway.yaml", basicConfig(port, [backendPort]) + rateLimitPolicy(requests));
    ports.push(port);
    gateways.push(
      await startMeshgate(folder.dir, ["--redis", `redis://127.0.0.1:${redisPort}`, "--instances", "3", "--access-log", "off"]),
    );
  }
  return { ports, gateways };
}

test("three gateways sharing Redis answer exactly the Global limit with 200, the rest 429 with quota headers", async (t) => {
  const redis = await startRedis(t);
  const backend = await startBackend("one", false);
  const { ports, gateways } = await threeGateways(redis.port, backend.port, 100);
  try {
    const answers = await spread(ports, 1000, 20, "/limited");
    const counts = countBy(answers);
    t.log(`statuses: ${JSON.stringify(counts)}`);
    t.is(counts["200"], 100);
    t.is(counts["429"], 900);
    const denied = answers.filter((a) => a.status === 429);
    t.true(denied.every((a) => a.retryAfter !== null && Number(a.retryAfter) >= 1 && Number(a.retryAfter) <= 60));
    t.true(denied.every((a) => /^limit=100, remaining=0, reset=\d+$/.test(a.rateLimit ?? "")));
    // Denied requests never reached the upstream.
    t.is(backend.received.length, 100);
    const metrics = (await Promise.all(gateways.map((g) => g.admin("/metrics")))).map((m) => m.text).join("\n");
    const limited = [...metrics.matchAll(/meshgate_ratelimit_requests_total\{policy="default\/hundred",rule="everyone",result="limited"\} (\d+)/g)];
    t.is(limited.reduce((sum, m) => sum + Number(m[1]), 0), 900);
  } finally {
    for (const g of gateways) t.is(await g.stop(), 0);
    await backend.close();
  }
});

test("Redis killed under load: no 5xx (insurance answers); restarted: global counting resumes", async (t) => {
  const redis = await startRedis(t);
  const backend = await startBackend("one", false);
  const { ports, gateways } = await threeGateways(redis.port, backend.port, 300);
  try {
    const before = countBy(await spread(ports, 90, 10, "/limited"));
    await redis.kill();
    const during = countBy(await spread(ports, 300, 10, "/limited"));
    t.log(`before ${JSON.stringify(before)}, Redis down ${JSON.stringify(during)}`);
    t.deepEqual(before, { "200": 90 });
    t.false(Object.keys(during).some((code) => code.startsWith("5")));
    // Insurance allows 300 / 3 per gateway: 300 requests spread over three pass at most 300.
    t.true((during["200"] ?? 0) > 0 && (during["200"] ?? 0) <= 300);
    const fallbacks = (await Promise.all(gateways.map((g) => g.admin("/metrics")))).map((m) => m.text).join("\n");
    t.regex(fallbacks, /meshgate_ratelimit_fallback_total\{source="insurance"\} [1-9]/);

    // A fresh Redis holds no counts: it lets exactly 300 more through, across all three.
    await redis.restart();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const after = countBy(await spread(ports, 400, 10, "/limited"));
    t.log(`after restart ${JSON.stringify(after)}`);
    t.deepEqual(after, { "200": 300, "429": 100 });
  } finally {
    for (const g of gateways) t.is(await g.stop(), 0);
    await backend.close();
  }
});

test("a hung Redis (SIGSTOP): answered 200 by insurance after --redis-timeout, once; later requests do not wait again", async (t) => {
  const redis = await startRedis(t);
  const backend = await startBackend("one", false);
  const port = await freePort();
  const folder = configFolder();
  folder.write("gateway.yaml", basicConfig(port, [backend.port]) + rateLimitPolicy(100));
  const gateway = await startMeshgate(folder.dir, ["--redis", `redis://127.0.0.1:${redis.port}`, "--redis-timeout", "1000", "--access-log", "off"]);
  const pid = redis.pid() as number;
  try {
    const timedGet = async () => {
      const started = Date.now();
      const res = await fetch(`http://127.0.0.1:${port}/limited`);
      await res.arrayBuffer();
      return { status: res.status, ms: Date.now() - started };
    };
    t.is((await timedGet()).status, 200);
    process.kill(pid, "SIGSTOP");
    const frozen = [];
    for (let i = 0; i < 10; i++) frozen.push(await timedGet());
    t.log(`Redis frozen: ${frozen.map((r) => `${r.status} in ${r.ms} ms`).join(", ")}`);
    t.deepEqual(frozen.map((r) => r.status), Array.from({ length: 10 }, () => 200));
    // The first waited the whole timeout; the rest were answered without waiting for Redis.
    t.true((frozen[0]?.ms ?? 0) >= 1000);
    // Waiting again would take the whole 1000 ms timeout; a loaded machine adds milliseconds, not that many.
    t.true(frozen.slice(1).every((r) => r.ms < 900));
    const metrics = (await gateway.admin("/metrics")).text;
    t.regex(metrics, /meshgate_ratelimit_redis_errors_total\{kind="timeout"\} 1\n/);
    t.regex(metrics, /meshgate_ratelimit_fallback_total\{source="insurance"\} 10\n/);
  } finally {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // already gone
    }
    t.is(await gateway.stop(), 0);
    await backend.close();
  }
});

// A Local limit is exact per instance however many workers serve it, and the headers state it.
for (const [limit, workers, mode] of [
  [10, 2, "processes"],
  [3, 4, "processes"],
  [10, 2, "threads"],
] as const) {
  test(`a Local limit of ${limit} a minute on --workers ${workers} (${mode}) admits exactly ${limit}, and says so`, async (t) => {
    const backend = await startBackend("one", false);
    const port = await freePort();
    const folder = configFolder();
    folder.write("gateway.yaml", basicConfig(port, [backend.port]) + rateLimitPolicy(limit, { type: "Local" }));
    const gw = await startMeshgate(folder.dir, ["--workers", String(workers), "--worker-mode", mode, "--access-log", "off"]);
    try {
      // A new connection per request, so that SO_REUSEPORT spreads them over the workers.
      const statuses: Record<string, number> = {};
      const policies = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/limited`, { headers: { connection: "close" } });
        await res.arrayBuffer();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        policies.add(res.headers.get("ratelimit-policy") ?? "none");
      }
      t.log(`statuses: ${JSON.stringify(statuses)}; ratelimit-policy: ${[...policies].join(" | ")}`);
      t.is(statuses["200"], limit);
      t.is(statuses["429"], 40 - limit);
      t.deepEqual([...policies].filter((p) => p !== "none"), [`${limit};w=60`], "every answer states the configured limit");
    } finally {
      await gw.stop();
      await backend.close();
    }
  });
}
