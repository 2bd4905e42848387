// The mirror engine against real node:http backends through a real H1Pool: the copy is faithful,
// and whatever the mirror does (down, asleep, 500, too much body) the primary is not touched.
import { Readable } from "node:stream";
import test, { type ExecutionContext } from "ava";
import { Mirror, type MirrorOptions, shadowHost } from "../../../gateway/mirror/mirror.js";
import { BoundedHasher, ShadowCompare, selectHeaders } from "../../../gateway/mirror/shadow-compare.js";
import { H1Pool } from "../../../gateway/upstream/h1/pool.js";
import { type Outcome, send } from "../../support/h1-client.js";
import { freePort, waitFor } from "../../support/net.js";
import { type Backend, backend, CountingMetrics } from "./fixtures.js";

const poolOptions = { connections: 4, connectTimeoutMs: 1000, idleTimeoutMs: 10_000 };

interface Setup {
  metrics: CountingMetrics;
  mirror: Mirror;
  mirrorPool: H1Pool;
}

function setup(t: ExecutionContext, port: number, overrides: Partial<MirrorOptions> = {}): Setup {
  const metrics = new CountingMetrics();
  const mirrorPool = new H1Pool("127.0.0.1", port, poolOptions);
  t.teardown(() => mirrorPool.destroy());
  const mirror = new Mirror({
    route: "default/web/0",
    pool: mirrorPool,
    metrics,
    timeoutMs: 2000,
    maxBodyBytes: 64 * 1024,
    maxInFlight: 16,
    ...overrides,
  });
  return { metrics, mirror, mirrorPool };
}

async function started(t: ExecutionContext, answer?: Parameters<typeof backend>[0]): Promise<Backend> {
  const server = await backend(answer);
  t.teardown(() => server.close());
  return server;
}

/** Echoes what the primary received, so a changed primary result would show. */
const echo: Parameters<typeof backend>[0] = (req, res) => res.end(`${req.method} ${req.url} ${req.body.length}`);

/**
 * One proxied request as the handler will drive it: the body's chunks go to the primary's
 * stream and to the mirror's tee side by side. Returns the primary's outcome and how long the
 * primary's own dispatch took.
 */
async function proxied(
  primaryPool: H1Pool,
  mirror: Mirror | null,
  chunks: Buffer[],
): Promise<{ outcome: Outcome; ms: number }> {
  const begun = performance.now();
  const headers = { host: "web.example", "x-request-id": "r-1" };
  const copy = mirror?.begin({ method: "POST", path: "/upload", headers }, true) ?? null;
  const body = new Readable({ read() {} });
  const result = send(primaryPool, { method: "POST", path: "/upload", headers, body });
  for (const chunk of chunks) {
    body.push(chunk);
    copy?.body?.write(chunk);
  }
  body.push(null);
  copy?.body?.end();
  const outcome = await result;
  return { outcome, ms: performance.now() - begun };
}

test.serial("the mirror receives the same method, path, headers and body, with the Host suffixed", async (t) => {
  const mirrorBackend = await started(t);
  const { metrics, mirror } = setup(t, mirrorBackend.port);
  const copy = mirror.begin(
    {
      method: "PUT",
      path: "/items/7?force=1",
      headers: { host: "api.example.com:8443", "x-request-id": "abc", "transfer-encoding": "chunked" },
    },
    true,
  );
  t.not(copy, null);
  copy?.body?.write(Buffer.from("hello "));
  copy?.body?.write(new TextEncoder().encode("world").buffer);
  copy?.body?.end();
  const bare = mirror.begin({ method: "GET", path: "/plain", headers: { accept: "text/plain" } }, false);
  t.is(bare?.body, null);
  await waitFor(() => mirrorBackend.received.length === 2);
  const [put, get] = [...mirrorBackend.received].sort((a, b) => a.method.localeCompare(b.method)).reverse();
  t.like(put, { method: "PUT", url: "/items/7?force=1" });
  t.like(put?.headers, { host: "api.example.com-shadow:8443", "x-request-id": "abc", "content-length": "11" });
  t.is(put?.headers["transfer-encoding"], undefined);
  t.is(put?.body.toString(), "hello world");
  t.like(get, { method: "GET", url: "/plain" });
  // Without a Host the pool's own default is sent, unchanged.
  t.like(get?.headers, { host: `127.0.0.1:${mirrorBackend.port}`, accept: "text/plain" });
  await waitFor(() => mirror.inFlight === 0);
  t.is(metrics.sentCount.get("default/web/0"), 2);
  t.deepEqual(metrics.failures, []);
  t.deepEqual(metrics.skips, []);
});

test("shadowHost puts the suffix after the host name, before any port", (t) => {
  t.is(shadowHost("example.com", "-shadow"), "example.com-shadow");
  t.is(shadowHost("example.com:8080", "-shadow"), "example.com-shadow:8080");
  t.is(shadowHost("[::1]:8080", "-shadow"), "[::1]-shadow:8080");
  t.is(shadowHost("[::1]", "-shadow"), "[::1]-shadow");
  t.is(shadowHost("example.com", ""), "example.com");
});

/**
 * Primary round trips without a mirror, then with a copy of it (and an earlier one) going to
 * the mirror at `mirrorPort`. Returns the copies still out when the primary was done.
 */
async function primaryUnaffected(
  t: ExecutionContext,
  mirrorPort: number,
  mirrorReceived: (() => number) | null,
  expectedFailure: string,
): Promise<number> {
  const primaryBackend = await started(t, echo);
  const primaryPool = new H1Pool("127.0.0.1", primaryBackend.port, poolOptions);
  t.teardown(() => primaryPool.destroy());
  const { metrics, mirror } = setup(t, mirrorPort, { timeoutMs: 1000 });
  const chunks = [Buffer.alloc(16 * 1024, 1), Buffer.alloc(16 * 1024, 2)];

  await proxied(primaryPool, null, chunks); // a warm connection for both runs
  const alone = await proxied(primaryPool, null, chunks);
  // A first copy already in flight at the mirror, then a request that is copied as well.
  const first = mirror.begin({ method: "GET", path: "/first", headers: {} }, false);
  t.not(first, null);
  if (mirrorReceived !== null) await waitFor(() => mirrorReceived() >= 1);
  const mirrored = await proxied(primaryPool, mirror, chunks);
  t.log(`primary alone ${alone.ms.toFixed(1)} ms, with the mirror in flight ${mirrored.ms.toFixed(1)} ms`);

  t.is(mirrored.outcome.status, alone.outcome.status);
  t.is(mirrored.outcome.body.toString(), "POST /upload 32768");
  t.is(mirrored.outcome.body.toString(), alone.outcome.body.toString());
  t.is(mirrored.outcome.error, undefined);
  t.true(alone.ms < 500, `primary alone took ${alone.ms} ms`);
  t.true(mirrored.ms < 500, `primary with the mirror took ${mirrored.ms} ms`);
  const stillOut = mirror.inFlight;

  await waitFor(() => mirror.inFlight === 0, 5000);
  t.deepEqual(
    metrics.failures.map((f) => f.kind),
    [expectedFailure, expectedFailure],
  );
  t.is(metrics.sentCount.get("default/web/0"), 2);
  return stillOut;
}

test.serial("a mirror that sleeps 5 s leaves the primary as fast as without, and times out", async (t) => {
  const asleep = await started(t, (_req, res, later) => later(5000, () => res.end("late")));
  const stillOut = await primaryUnaffected(t, asleep.port, () => asleep.received.length, "timeout");
  t.is(stillOut, 2, "both copies were still waiting for the mirror when the primary was done");
  t.is(asleep.received[1]?.body.length, 32 * 1024);
});

test.serial("a mirror that is down leaves the primary unchanged and counts connect failures", async (t) => {
  await primaryUnaffected(t, await freePort(), null, "connect");
});

test.serial("a mirror that answers 500 leaves the primary unchanged and counts the status", async (t) => {
  const failing = await started(t, (_req, res) => {
    res.statusCode = 500;
    res.end("broken");
  });
  await primaryUnaffected(t, failing.port, () => failing.received.length, "status_5xx");
});

test.serial("a body over maxBodyBytes is skipped and counted; the primary gets all of it", async (t) => {
  const primaryBackend = await started(t, echo);
  const mirrorBackend = await started(t);
  const primaryPool = new H1Pool("127.0.0.1", primaryBackend.port, poolOptions);
  t.teardown(() => primaryPool.destroy());
  const { metrics, mirror } = setup(t, mirrorBackend.port, { maxBodyBytes: 1024 });
  const chunks = Array.from({ length: 4 }, (_, i) => Buffer.alloc(1024, i));
  const { outcome } = await proxied(primaryPool, mirror, chunks);
  t.is(outcome.body.toString(), "POST /upload 4096");
  // The client leaves half way through another body.
  const left = mirror.begin({ method: "POST", path: "/x", headers: {} }, true);
  left?.body?.write(Buffer.alloc(10));
  left?.body?.abort();
  await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(
    metrics.skips.map((s) => s.reason),
    ["body_too_large", "body_aborted"],
  );
  t.is(mirrorBackend.received.length, 0);
  t.is(metrics.sentCount.size, 0);
  t.is(mirror.inFlight, 0);
});

test.serial("copies beyond maxInFlight are skipped as overloaded; sampling 0 copies nothing", async (t) => {
  const asleep = await started(t, (_req, res, later) => later(5000, () => res.end("late")));
  const { metrics, mirror } = setup(t, asleep.port, { maxInFlight: 1, timeoutMs: 300 });
  t.not(mirror.begin({ method: "GET", path: "/1", headers: {} }, false), null);
  t.is(mirror.begin({ method: "GET", path: "/2", headers: {} }, false), null);
  t.deepEqual(metrics.skips, [{ route: "default/web/0", reason: "overloaded" }]);
  await waitFor(() => mirror.inFlight === 0);
  t.not(mirror.begin({ method: "GET", path: "/3", headers: {} }, false), null);

  const never = setup(t, asleep.port, { probability: 0 });
  for (let i = 0; i < 50; i++) t.is(never.mirror.begin({ method: "GET", path: "/", headers: {} }, false), null);
  t.is(never.metrics.skips.length, 0);
  t.is(never.mirror.inFlight, 0);
});

test.serial("shadow comparison counts a matching and a differing mirror response", async (t) => {
  const primaryBackend = await started(t, (_req, res) => {
    res.setHeader("content-type", "text/plain");
    res.end("same answer");
  });
  const mirrorBackend = await started(t, (req, res) => {
    res.setHeader("content-type", "text/plain");
    res.end(req.url === "/differs" ? "another answer" : "same answer");
  });
  const primaryPool = new H1Pool("127.0.0.1", primaryBackend.port, poolOptions);
  t.teardown(() => primaryPool.destroy());
  const store = new ShadowCompare({ headerNames: ["content-type"] });
  const { mirror } = setup(t, mirrorBackend.port, { compare: { store, maxHashBytes: 1024 } });
  for (const path of ["/same", "/differs"]) {
    const copy = mirror.begin({ method: "GET", path, headers: {} }, false);
    const outcome = await send(primaryPool, { path });
    const hasher = new BoundedHasher(1024);
    hasher.update(outcome.body);
    copy?.primaryResponse({
      status: outcome.status,
      headers: selectHeaders(outcome.headers, store.headerNames),
      bodySha256: hasher.digest(),
    });
  }
  await waitFor(() => (store.report("default/web/0")?.mismatched ?? 0) + (store.report("default/web/0")?.matched ?? 0) === 2);
  const report = store.report("default/web/0");
  t.like(report, { matched: 1, mismatched: 1 });
  t.deepEqual(report?.samples[0]?.differences, ["body"]);
  t.is(report?.samples[0]?.mirror.headers["content-type"], "text/plain");
});
