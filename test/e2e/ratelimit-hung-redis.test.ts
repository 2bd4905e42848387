// A hung Redis (SIGSTOP: the connection stays open, nothing answers) under a Global limit keyed
// on a Distinct header: every request brings a new key, so none is answered from memory and each
// would leave a Redis command behind. The real `meshgate standalone` process must answer every
// request (from insurance) with its memory flat, and count in Redis again once Redis resumes.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import test from "ava";
import { Pool } from "undici";
import { basicConfig, configFolder, startMeshgate } from "../support/meshgate.js";
import { freePort, waitFor } from "../support/net.js";
import { sampleRss } from "../support/process-memory.js";
import { redisCli, startRedis } from "../support/redis.js";

const REQUESTS = 100_000;
const CONNECTIONS = 64;
/** Requests counted in Redis before it hangs: warms the gateway up to its working size. */
const WARM_UP = 5_000;
const LIMIT = 4;
const INSTANCES = 2;
const RSS_GROWTH_MAX_MB = 50;
/** Generous, so that a loaded machine does not turn a slow Redis answer into an insurance one. */
const REDIS_TIMEOUT_MS = 1000;
const FAILURE_KINDS = ["timeout", "overloaded", "unavailable", "error"] as const;

function distinctUserPolicy(): string {
  return `---
apiVersion: meshgate.io/v1alpha1
kind: RateLimitPolicy
metadata: {name: per-user, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: app}]
  rules:
  - name: by-user
    clientSelectors: [{headers: [{name: x-user, type: Distinct}]}]
    limit: {requests: ${LIMIT}, unit: Minute}
    type: Global
    failClosed: false
`;
}

/** `total` GETs, each with its own x-user (`prefix` + index), `CONNECTIONS` at a time; statuses counted. */
async function distinctUsers(pool: Pool, prefix: string, total: number): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {};
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < total) {
      const user = `${prefix}${next++}`;
      let outcome: string;
      try {
        const res = await pool.request({ path: "/limited", method: "GET", headers: { "x-user": user } });
        await res.body.dump();
        outcome = String(res.statusCode);
      } catch (error) {
        outcome = `error ${(error as { code?: string }).code ?? String(error)}`;
      }
      statuses[outcome] = (statuses[outcome] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, lane));
  return statuses;
}

async function sendAs(pool: Pool, user: string): Promise<number> {
  const res = await pool.request({ path: "/limited", method: "GET", headers: { "x-user": user } });
  await res.body.dump();
  return res.statusCode;
}

/** The count Redis holds for one x-user of the rule, undefined when it holds none. */
async function redisCount(port: number, user: string): Promise<number | undefined> {
  const keys = (await redisCli(port, ["--scan", "--pattern", `*=${user}`])).split("\n").filter((k) => k !== "");
  if (keys.length === 0) return undefined;
  return Number((await redisCli(port, ["get", keys[0] as string])).trim());
}

function metric(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** Redis call failures by kind, and insurance decisions, from the gateway's /metrics. */
function fallbacks(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of FAILURE_KINDS) counts[kind] = metric(text, `meshgate_ratelimit_redis_errors_total{kind="${kind}"}`);
  counts["insurance"] = metric(text, 'meshgate_ratelimit_fallback_total{source="insurance"}');
  return counts;
}

function since(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}

test("a hung Redis under 100k distinct keys: every request answered, gateway RSS flat; counted in Redis again after SIGCONT", async (t) => {
  t.timeout(300_000);
  const redis = await startRedis(t);
  let backendRequests = 0;
  const backend = createServer((_req, res) => {
    backendRequests++;
    res.end("ok");
  });
  backend.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => backend.close(() => resolve())));
  const port = await freePort();
  const folder = configFolder();
  folder.write("gateway.yaml", basicConfig(port, [(backend.address() as AddressInfo).port]) + distinctUserPolicy());
  const gateway = await startMeshgate(folder.dir, [
    "--redis",
    `redis://127.0.0.1:${redis.port}`,
    "--instances",
    String(INSTANCES),
    "--redis-timeout",
    String(REDIS_TIMEOUT_MS),
    "--access-log",
    "off",
  ]);
  const redisPid = redis.pid() as number;
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONNECTIONS, pipelining: 1 });
  try {
    // Counted in Redis while it answers.
    t.deepEqual(await distinctUsers(pool, "warm-", WARM_UP), { "200": WARM_UP });
    t.is(await redisCount(redis.port, `warm-${WARM_UP - 1}`), 1);

    const before = fallbacks((await gateway.admin("/metrics")).text);
    process.kill(redisPid, "SIGSTOP");
    const rss = sampleRss(gateway.proc.pid as number);
    const startedAt = Date.now();
    const statuses = await distinctUsers(pool, "hung-", REQUESTS);
    const seconds = (Date.now() - startedAt) / 1000;
    const { peak, end } = rss.stop();
    t.log(`Redis stopped, ${REQUESTS} requests with distinct keys in ${seconds.toFixed(1)} s: statuses ${JSON.stringify(statuses)}`);
    t.log(`gateway RSS: start ${rss.start.toFixed(1)} MB, peak ${peak.toFixed(1)} MB, end ${end.toFixed(1)} MB (peak - start ${(peak - rss.start).toFixed(1)} MB)`);
    const during = since(fallbacks((await gateway.admin("/metrics")).text), before);
    t.log(`while Redis was stopped, Redis calls failed by kind, and insurance decisions: ${JSON.stringify(during)}`);

    // Every request got an answer: one request per key is within the insurance share, so 200.
    t.deepEqual(statuses, { "200": REQUESTS });
    t.is(backendRequests, WARM_UP + REQUESTS);
    t.true(peak - rss.start < RSS_GROWTH_MAX_MB, `RSS grew ${(peak - rss.start).toFixed(1)} MB`);
    t.is(during["insurance"], REQUESTS);
    // One call per key, each failed one way or another; few waited for the timeout: once the
    // connection was given up (or the in-flight cap reached), requests were answered without
    // sending anything to Redis.
    t.is((during["timeout"] ?? 0) + (during["overloaded"] ?? 0) + (during["unavailable"] ?? 0), REQUESTS);
    t.true((during["timeout"] ?? 0) < REQUESTS / 10, JSON.stringify(during));

    process.kill(redisPid, "SIGCONT");
    // Once the client is ready again, a new key is counted in Redis...
    let probe = 0;
    await waitFor(async () => {
      const user = `probe-${probe++}`;
      t.is(await sendAs(pool, user), 200);
      return (await redisCount(redis.port, user)) === 1;
    }, 20_000, 100);
    // ...to the whole limit, where insurance would allow only LIMIT / INSTANCES.
    const answers: number[] = [];
    for (let i = 0; i < LIMIT + 2; i++) answers.push(await sendAs(pool, "after"));
    t.log(`after SIGCONT, one key: ${answers.join(" ")}`);
    t.deepEqual(answers, [...Array.from({ length: LIMIT }, () => 200), 429, 429]);
    t.is(await redisCount(redis.port, "after"), LIMIT);
  } finally {
    try {
      process.kill(redisPid, "SIGCONT");
    } catch {
      // already gone
    }
    await pool.close();
    t.is(await gateway.stop(), 0);
  }
});
