// Rate limits on a route, end to end inside one DataPlane with a real backend and a real
// redis-server: allowed answers carry the quota, limited ones 429, and Redis calls, their
// failures and the fallback show in the metrics.
import test from "ava";
import { Redis } from "ioredis";
import { Agent, request } from "undici";
import { DataPlane } from "../../gateway/data-plane.js";
import type { PortInput, RateLimitConfig } from "../../gateway/snapshot.js";
import { startBackend } from "../support/backend.js";
import { freePort } from "../support/net.js";
import { startRedis } from "../support/redis.js";
import { cluster, simplePort, snapshot } from "../support/snapshot.js";

const client = new Agent({ keepAliveTimeout: 10_000 });
test.after.always(() => client.close());

async function limitedPlane(plane: DataPlane, backendPort: number, limits: RateLimitConfig[]): Promise<number> {
  const port = await freePort();
  const p: PortInput = simplePort(port, [{ backends: [{ cluster: "app" }] }]);
  const action = p.listeners?.[0]?.actions?.[0];
  if (action === undefined) throw new Error("simplePort changed shape");
  action.rateLimits = limits;
  const result = await plane.apply(snapshot({ version: 1, ports: [p], clusters: [cluster("app", [backendPort])] }));
  if (result.portErrors.length > 0) throw new Error(JSON.stringify(result.portErrors));
  return port;
}

function rule(id: string, requests: number, type: "Global" | "Local", bucket = `default/${id}`): RateLimitConfig {
  return { policy: "default/policy", bucket, id, selectors: [], limit: { requests, unit: "Minute" }, type };
}

async function get(port: number) {
  const res = await request(`http://127.0.0.1:${port}/`, { headers: { host: "shop.example.com" }, dispatcher: client });
  await res.body.dump();
  const header = (name: string) => {
    const v = res.headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
  };
  return {
    status: res.statusCode,
    policy: header("ratelimit-policy"),
    ratelimit: header("ratelimit"),
    retryAfter: header("retry-after"),
  };
}

async function until(check: () => Promise<boolean>, message: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function series(plane: DataPlane, prefix: string): Promise<Map<string, number>> {
  const text = await plane.metrics.registry.metrics();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith(prefix)) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

test("allowed answers carry the quota of the tightest rule; the answer past it is 429 with Retry-After", async (t) => {
  const backend = await startBackend("app");
  const plane = new DataPlane();
  try {
    // Two Local rules: the 3-per-minute one is the tighter and names the quota.
    // The upstream's own quota headers are replaced by the gateway's, not doubled.
    backend.behave((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", ratelimit: "limit=1, remaining=1, reset=1", "ratelimit-policy": "1;w=1" });
      res.end("ok");
    });
    const port = await limitedPlane(plane, backend.port, [rule("wide", 100, "Local"), rule("narrow", 3, "Local")]);
    const answers = [await get(port), await get(port), await get(port), await get(port)];
    t.deepEqual(
      answers.map((a) => [a.status, a.policy, a.ratelimit?.replace(/reset=\d+/, "reset=N"), a.retryAfter]),
      [
        [200, "3;w=60", "limit=3, remaining=2, reset=N", undefined],
        [200, "3;w=60", "limit=3, remaining=1, reset=N", undefined],
        [200, "3;w=60", "limit=3, remaining=0, reset=N", undefined],
        [429, "3;w=60", "limit=3, remaining=0, reset=N", answers[3]?.retryAfter],
      ],
    );
    t.regex(answers[3]?.retryAfter ?? "", /^\d+$/);
    t.is(backend.received.length, 3);
  } finally {
    await plane.drain(1000);
    await backend.close();
  }
});

test("Redis calls are timed; with Redis gone they count as errors, the fallback gauge says so and clears on return", async (t) => {
  const redis = await startRedis(t);
  const backend = await startBackend("app");
  const plane = new DataPlane({ rateLimits: { redis: { mode: "standalone", url: `redis://127.0.0.1:${redis.port}` }, instances: 2 } });
  try {
    const port = await limitedPlane(plane, backend.port, [rule("global", 1000, "Global")]);
    const ok = async () => (await series(plane, "meshgate_ratelimit_redis_duration_seconds_count")).get('meshgate_ratelimit_redis_duration_seconds_count{result="ok"}') ?? 0;
    // The client connects at start; requests before it is ready are answered by insurance.
    await until(async () => (await get(port)).status === 200 && (await ok()) > 0, "Redis answered no call within 5 s");
    const before = await ok();
    for (let i = 0; i < 5; i++) t.is((await get(port)).status, 200);
    let m = await series(plane, "meshgate_ratelimit_");
    t.is(m.get('meshgate_ratelimit_redis_duration_seconds_count{result="ok"}'), before + 5);
    t.is(m.get("meshgate_ratelimit_fallback_active"), 0);

    const failed = (m: Map<string, number>) =>
      [...m].filter(([k]) => k.startsWith("meshgate_ratelimit_redis_errors_total")).reduce((n, [, v]) => n + v, 0);
    const insured = (m: Map<string, number>) => m.get('meshgate_ratelimit_fallback_total{source="insurance"}') ?? 0;
    const [failedBefore, insuredBefore] = [failed(m), insured(m)];
    await redis.kill();
    // Insurance answers (failClosed is off): 200s, each a failed Redis call.
    for (let i = 0; i < 3; i++) t.is((await get(port)).status, 200);
    m = await series(plane, "meshgate_ratelimit_");
    t.is(failed(m) - failedBefore, 3);
    t.is(insured(m) - insuredBefore, 3);
    t.is(m.get("meshgate_ratelimit_fallback_active"), 1);

    await redis.restart();
    const okBefore = await ok();
    await until(async () => {
      await get(port);
      return (await series(plane, "meshgate_ratelimit_fallback_active")).get("meshgate_ratelimit_fallback_active") === 0;
    }, "Redis calls did not succeed again within 5 s");
    t.true((await ok()) > okBefore);
  } finally {
    await plane.drain(1000);
    await backend.close();
  }
});

test("a busy route far from its Global limit is served from leased slots: all pass with quotas, few Redis calls, Redis holds each one", async (t) => {
  const server = await startRedis(t);
  const backend = await startBackend("app");
  const plane = new DataPlane({ rateLimits: { redis: { mode: "standalone", url: `redis://127.0.0.1:${server.port}` }, instances: 1 } });
  const redis = new Redis({ host: "127.0.0.1", port: server.port });
  try {
    const port = await limitedPlane(plane, backend.port, [rule("busy", 10_000_000, "Global")]);
    const calls = async () =>
      (await series(plane, "meshgate_ratelimit_redis_duration_seconds_count")).get('meshgate_ratelimit_redis_duration_seconds_count{result="ok"}') ?? 0;
    await until(async () => (await get(port)).status === 200 && (await calls()) > 0, "Redis answered no call within 5 s");
    const callsBefore = await calls();
    const servedBefore = backend.received.length;
    const answers = [];
    for (let wave = 0; wave < 10; wave++) answers.push(...(await Promise.all(Array.from({ length: 40 }, () => get(port)))));
    const callsMade = (await calls()) - callsBefore;
    const keys = await redis.keys("meshgate-rl*");
    const counted = keys.length === 1 ? Number(await redis.get(keys[0] as string)) : Number.NaN;
    const served = backend.received.length - servedBefore;
    t.log(`400 requests: ${callsMade} Redis calls; Redis counts ${counted}`);
    t.true(answers.every((a) => a.status === 200 && a.policy === "10000000;w=60" && /remaining=\d+/.test(a.ratelimit ?? "")));
    t.is(served, 400);
    // One call per request without leases; one per wave (40 requests) with batching alone.
    t.true(callsMade < 10, `${callsMade} calls`);
    // Each served request holds a slot; the warm-up's (insurance may have answered it) and the
    // unused lease (at most 256) may add to that.
    t.true(counted >= 400 && counted <= 400 + servedBefore + 256, `Redis ${counted}`);
  } finally {
    redis.disconnect();
    await plane.drain(1000);
    await backend.close();
  }
});
