// Fault injection through a real gateway (a DataPlane on a real port) and a real backend: aborts
// answered by the gateway, shares within binomial bounds, delays measured, the client that leaves
// during a delay, the body of a delayed request, and a route the policy does not reach.
import { performance } from "node:perf_hooks";
import { Readable } from "node:stream";
import test from "ava";
import { Agent, request } from "undici";
import { DataPlane } from "../../gateway/data-plane.js";
import { compileFault, drawFault } from "../../gateway/routing/fault.js";
import type { FaultConfig, PortInput } from "../../gateway/snapshot.js";
import { startBackend, type TestBackend } from "../support/backend.js";
import { freePort } from "../support/net.js";
import { seededRandom } from "../support/seeded-random.js";
import { cluster, simplePort, snapshot } from "../support/snapshot.js";

const client = new Agent({ keepAliveTimeout: 10_000, connections: 16 });
test.after.always(() => client.close());

interface Setup {
  port: number;
  plane: DataPlane;
  backend: TestBackend;
}

/** Route /faulty with `fault` (and `requestMs`), route /plain without; both to one backend. */
async function withFault(fault: Omit<FaultConfig, "policy">, run: (s: Setup) => Promise<void>, requestMs?: number): Promise<void> {
  const backend = await startBackend("app");
  const port = await freePort();
  const p: PortInput = simplePort(port, [
    { prefix: "/faulty", backends: [{ cluster: "app" }], ...(requestMs !== undefined && { requestTimeoutMs: requestMs }) },
    { prefix: "/plain", backends: [{ cluster: "app" }] },
  ]);
  const action = p.listeners?.[0]?.actions?.[0];
  if (action === undefined) throw new Error("simplePort changed shape");
  action.fault = { policy: "default/chaos", ...fault };
  const plane = new DataPlane();
  try {
    const applied = await plane.apply(snapshot({ version: 1, ports: [p], clusters: [cluster("app", [backend.port])] }));
    if (applied.portErrors.length > 0) throw new Error(JSON.stringify(applied.portErrors));
    await run({ port, plane, backend });
  } finally {
    await plane.drain(1000);
    await backend.close();
  }
}

async function send(port: number, path: string, opts: { method?: "GET" | "POST"; body?: string; signal?: AbortSignal } = {}) {
  const started = performance.now();
  const res = await request(`http://127.0.0.1:${port}${path}`, {
    method: opts.method ?? "GET",
    headers: { host: "shop.example.com" },
    body: opts.body,
    signal: opts.signal,
    dispatcher: client,
  });
  const text = await res.body.text();
  return { status: res.statusCode, text, ms: performance.now() - started };
}

/** `n` requests, `parallel` at a time. */
async function many(n: number, parallel: number, one: () => Promise<{ status: number }>): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        next++;
        statuses.push((await one()).status);
      }
    }),
  );
  return statuses;
}

async function series(plane: DataPlane, name: string): Promise<Record<string, number>> {
  const text = await plane.metrics.registry.metrics();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\d+)$`, "gm"))) out[m[1] ?? ""] = Number(m[2]);
  return out;
}

test("abort 100%: every answer is the status, from the gateway; the route the policy does not reach is untouched", async (t) => {
  await withFault({ abort: { status: 503, percentage: 100 } }, async ({ port, plane, backend }) => {
    const faulty = await many(50, 8, () => send(port, "/faulty/x"));
    t.deepEqual(new Set(faulty), new Set([503]));
    t.is(faulty.length, 50);
    t.is(backend.received.length, 0, "an aborted request never reaches the backend");
    t.is((await send(port, "/faulty/y")).text, "fault filter abort\n");
    const plain = await many(20, 4, () => send(port, "/plain/x"));
    t.deepEqual(new Set(plain), new Set([200]));
    t.is(backend.received.length, 20);
    t.deepEqual(await series(plane, "meshgate_fault_injected_total"), { 'route="default/route-0",kind="abort"': 51 });
  });
});

test("abort 30% over 2000 requests lands within binomial bounds, and the metric counts each abort", async (t) => {
  // Binomial(2000, 0.3): mean 600, sd 20.5. 600 +- 101 is 4.9 sd: a false failure has a chance
  // below 1e-6, while 25% or 35% (mean 500 or 700, off by 4.9 sd the other way) would fail.
  const N = 2000;
  await withFault({ abort: { status: 418, percentage: 30 } }, async ({ port, plane, backend }) => {
    const statuses = await many(N, 16, () => send(port, "/faulty/x"));
    const aborted = statuses.filter((s) => s === 418).length;
    t.log(`aborted ${aborted} of ${N} at 30%`);
    t.true(aborted >= 499 && aborted <= 701, `aborted ${aborted}`);
    t.is(statuses.filter((s) => s === 200).length, N - aborted);
    t.is(backend.received.length, N - aborted);
    t.deepEqual(await series(plane, "meshgate_fault_injected_total"), { 'route="default/route-0",kind="abort"': aborted });
  });
});

test("delay: the answer waits at least delayMs, outside timeouts.request; the other route does not wait", async (t) => {
  // The route's timeouts.request (150 ms) is shorter than the delay (300 ms): the delay does not
  // count against it, as Envoy's route timeout does not include its fault filter's delay.
  await withFault(
    { delay: { delayMs: 300, percentage: 100 } },
    async ({ port, plane, backend }) => {
      const delayed = await send(port, "/faulty/x");
      t.is(delayed.status, 200);
      t.true(delayed.ms >= 300, `took ${delayed.ms.toFixed(1)} ms`);
      const posted = await send(port, "/faulty/upload", { method: "POST", body: "b".repeat(10_000) });
      t.is(posted.status, 200);
      t.is(backend.received.at(-1)?.bodyBytes, 10_000, "the body held during the delay arrives whole");
      const plain = await send(port, "/plain/x");
      t.is(plain.status, 200);
      t.true(plain.ms < 300, `plain took ${plain.ms.toFixed(1)} ms`);
      t.is(backend.received.length, 3);
      t.deepEqual(await series(plane, "meshgate_fault_injected_total"), { 'route="default/route-0",kind="delay"': 2 });
    },
    150,
  );
});

test("a client that leaves during the delay: nothing reaches the backend, the request is counted 499", async (t) => {
  await withFault({ delay: { delayMs: 400, percentage: 100 } }, async ({ port, plane, backend }) => {
    const gone = AbortSignal.timeout(100);
    const left = await send(port, "/faulty/x", { signal: gone }).then(
      () => "answered",
      (err: unknown) => (err instanceof Error || err instanceof DOMException ? err.name : String(err)),
    );
    t.is(left, "TimeoutError");
    await new Promise((r) => setTimeout(r, 600));
    t.is(backend.received.length, 0);
    const requests = await series(plane, "meshgate_http_requests_total");
    t.is(requests['gateway="default/gw",route="default/route-0",backend="",code="499"'], 1);
    // The gateway keeps serving.
    t.is((await send(port, "/plain/x")).status, 200);
  });
});

test("a large body streamed into a delay is not kept whole: the client is paused, then the body arrives intact", async (t) => {
  const SIZE = 48 * 1024 * 1024;
  await withFault({ delay: { delayMs: 1200, percentage: 100 } }, async ({ port, backend }) => {
    const before = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    let peak = 0;
    // Sampled while the request waits out its delay, before the backend reads (and keeps) any of it.
    const sample = setInterval(() => {
      if (performance.now() - started < 1100) peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }, 20);
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    const body = Readable.from(
      (function* () {
        for (let sent = 0; sent < SIZE; sent += chunk.length) yield chunk;
      })(),
    );
    const res = await request(`http://127.0.0.1:${port}/faulty/upload`, {
      method: "POST",
      headers: { host: "shop.example.com", "content-length": String(SIZE) },
      body,
      dispatcher: client,
    });
    await res.body.text();
    clearInterval(sample);
    t.is(res.statusCode, 200);
    t.is(backend.received.at(-1)?.bodyBytes, SIZE, "the body arrives whole after the delay");
    t.log(`48 MiB POST into a 1200 ms delay: ArrayBuffer memory of this process (client, gateway and backend) rose at most ${(peak / 1048576).toFixed(1)} MiB during the delay`);
    // Held whole, the gateway alone would keep 48 MiB; paused, it keeps about 256 KiB plus the
    // socket buffers, and the client and backend a few MiB in flight.
    t.true(peak < 24 * 1024 * 1024, `peak ${peak} bytes`);
  });
});

test("delay and abort together: the request waits, then is aborted, as in Envoy's fault filter", async (t) => {
  await withFault({ delay: { delayMs: 200, percentage: 100 }, abort: { status: 500, percentage: 100 } }, async ({ port, plane, backend }) => {
    const r = await send(port, "/faulty/x");
    t.is(r.status, 500);
    t.true(r.ms >= 200, `took ${r.ms.toFixed(1)} ms`);
    t.is(backend.received.length, 0);
    t.deepEqual(await series(plane, "meshgate_fault_injected_total"), {
      'route="default/route-0",kind="delay"': 1,
      'route="default/route-0",kind="abort"': 1,
    });
  });
});

test("drawFault: one draw each against the share; 0% never draws, 100% always applies", (t) => {
  const fault = compileFault({ policy: "p", delay: { delayMs: 5, percentage: 30 }, abort: { status: 503, percentage: 10 } });
  if (fault === undefined) return t.fail();
  const random = seededRandom(42);
  let delayed = 0;
  let aborted = 0;
  const N = 100_000;
  for (let i = 0; i < N; i++) {
    const d = drawFault(fault, random);
    if (d.delayMs === 5) delayed++;
    if (d.abortStatus === 503) aborted++;
  }
  // Seeded: the counts are fixed; the bounds say what they mean (sd 145 and 95).
  t.true(Math.abs(delayed - 30_000) < 700, `delayed ${delayed}`);
  t.true(Math.abs(aborted - 10_000) < 500, `aborted ${aborted}`);
  t.deepEqual(drawFault({ ...fault, delayShare: 1, abortShare: 1 }, () => 0.999999), { delayMs: 5, abortStatus: 503 });
  t.deepEqual(drawFault({ ...fault, delayShare: 0, abortShare: 0 }, () => t.fail() as never), { delayMs: 0, abortStatus: 0 });
  t.is(compileFault({ policy: "p", delay: { delayMs: 0, percentage: 100 } }), undefined, "a 0 ms delay costs nothing");
  t.is(compileFault({ policy: "p", abort: { status: 503, percentage: 0 } }), undefined, "a 0% abort costs nothing");
});
