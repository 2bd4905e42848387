// An HTTPRoute rule's own retry (GEP-1731) through a real in-process gateway to a backend that
// fails on purpose: which statuses are retried, how often, within which bound, with which body.
// The matrix is generated as an explicit cartesian product; each case asserts the status the
// client got and the attempts the backend saw for that request id.
import { randomBytes, createHash } from "node:crypto";
import { Readable } from "node:stream";
import test from "ava";
import { Agent, request } from "undici";
import { DataPlane } from "../../gateway/data-plane.js";
import type { ClusterInput, PortInput, RouteAction } from "../../gateway/snapshot.js";
import { type FailingBackend, startFailingBackend } from "../support/failing-backend.js";
import { freePort } from "../support/net.js";
import { cluster, snapshot } from "../support/snapshot.js";

const client = new Agent({ keepAliveTimeout: 10_000, connections: 64 });
test.after.always(() => client.close());

type ActionInput = Omit<Partial<RouteAction>, "filters" | "mirrors" | "rateLimits">;

/** One port; each action is served under its own prefix /a<i>/, all to cluster "c". */
function portWith(port: number, actions: ActionInput[]): PortInput {
  return {
    port,
    address: "127.0.0.1",
    protocol: "HTTP",
    listeners: [
      {
        name: "default/gw/http",
        gateway: "default/gw",
        entries: actions.map((_, i) => ({
          hostnames: [],
          match: { path: { type: "PathPrefix" as const, value: `/a${i}/` } },
          action: i,
        })),
        actions: actions.map((a, i) => ({
          route: `default/route-${i}`,
          rule: "0",
          backends: [{ cluster: "c", weight: 1 }],
          timeouts: {},
          ...a,
        })),
      },
    ],
  };
}

/**
 * A gateway whose cluster has room for every retry the tests ask for: the retry budget's floor
 * high (the budget is tested on its own) and outlier ejection off (one endpoint fails on purpose).
 */
async function gatewayFor(
  backend: FailingBackend,
  actions: ActionInput[],
  clusterExtra: Partial<ClusterInput> = {},
): Promise<{ port: number; plane: DataPlane }> {
  const port = await freePort();
  const plane = new DataPlane();
  await plane.apply(
    snapshot({
      version: 1,
      ports: [portWith(port, actions)],
      clusters: [
        cluster("c", [backend.port], {
          retry: { minRetryConcurrency: 10_000, budgetPercent: 100 },
          outlier: { consecutiveFailures: 0 },
          ...clusterExtra,
        }),
      ],
    }),
  );
  return { port, plane };
}

let ids = 0;
const nextId = () => `req-${process.pid}-${++ids}`;

async function send(
  port: number,
  path: string,
  headers: Record<string, string>,
  opts: { method?: "GET" | "POST" | "PUT"; body?: Buffer | Readable } = {},
): Promise<{ status: number; text: string; ms: number }> {
  const started = performance.now();
  const res = await request(`http://127.0.0.1:${port}${path}`, {
    method: opts.method ?? "GET",
    headers,
    body: opts.body ?? null,
    dispatcher: client,
  });
  const text = await res.body.text();
  return { status: res.statusCode, text, ms: performance.now() - started };
}

/** Runs `jobs` with at most `width` in flight. */
async function pooled<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const out: T[] = new Array<T>(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await (jobs[i] as () => Promise<T>)();
      }
    }),
  );
  return out;
}

const CODE_SETS = [[500], [502, 504], []] as const;
const FAILURES = ["500", "502", "503", "504", "reset"] as const;
const ATTEMPTS = [0, 1, 2, 3] as const;
/** Failing attempts before the backend answers 200; 9 is "keeps failing". */
const FAILS_BEFORE_SUCCESS = [0, 1, 2, 9] as const;
const BACKOFFS = [undefined, 15] as const;
/** No route timeout (the cluster's 15 s default) and "0s" (no bound at all). */
const REQUEST_TIMEOUTS = [undefined, 0] as const;

interface Case {
  codes: readonly number[];
  attempts: number;
  backoffMs: number | undefined;
  requestMs: number | undefined;
  failure: (typeof FAILURES)[number];
  fails: number;
}

/** What GEP-1731 asks: listed codes and connection errors retried, at most `attempts` times. */
function expected(c: Case): { status: number; attempts: number } {
  if (c.fails === 0) return { status: 200, attempts: 1 };
  const failedStatus = c.failure === "reset" ? 503 : Number(c.failure);
  const retried = c.failure === "reset" || c.codes.includes(Number(c.failure));
  if (!retried) return { status: failedStatus, attempts: 1 };
  const tries = Math.min(c.fails, c.attempts) + 1;
  return { status: c.fails <= c.attempts ? 200 : failedStatus, attempts: tries };
}

test("generated matrix: codes x attempts x failures before success x backoff x request timeout: the client's status and the backend's attempt count", async (t) => {
  const backend = await startFailingBackend();
  const configs: Omit<Case, "failure" | "fails">[] = [];
  for (const codes of CODE_SETS)
    for (const attempts of ATTEMPTS)
      for (const backoffMs of BACKOFFS)
        for (const requestMs of REQUEST_TIMEOUTS) configs.push({ codes, attempts, backoffMs, requestMs });
  const { port, plane } = await gatewayFor(
    backend,
    configs.map((c) => ({
      retry: { codes: [...c.codes], attempts: c.attempts, ...(c.backoffMs !== undefined && { backoffMs: c.backoffMs }) },
      timeouts: c.requestMs === undefined ? {} : { requestMs: c.requestMs },
    })),
  );
  try {
    const cases: (Case & { action: number })[] = [];
    configs.forEach((cfg, action) => {
      for (const failure of FAILURES) for (const fails of FAILS_BEFORE_SUCCESS) cases.push({ ...cfg, failure, fails, action });
    });
    const results = await pooled(
      cases.map((c) => async () => {
        const id = nextId();
        const r = await send(port, `/a${c.action}/x`, { "x-test-id": id, "x-fail": c.failure, "x-fail-times": String(c.fails) });
        return { c, status: r.status, attempts: backend.attempts(id) };
      }),
      24,
    );
    const mismatches: string[] = [];
    for (const { c, status, attempts } of results) {
      const want = expected(c);
      const label = `codes=[${c.codes.join(",")}] attempts=${c.attempts} backoff=${c.backoffMs ?? "-"} request=${c.requestMs ?? "-"} failure=${c.failure} fails=${c.fails}`;
      if (status !== want.status || attempts !== want.attempts)
        mismatches.push(`${label}: got ${status} after ${attempts} attempts, want ${want.status} after ${want.attempts}`);
    }
    t.deepEqual(mismatches, []);
    t.log(`${results.length} generated cases (${configs.length} rule configs x ${FAILURES.length} failures x ${FAILS_BEFORE_SUCCESS.length} failure counts), ${mismatches.length} mismatches`);
    // The run summary, from the counts the backend measured for requests that keep failing.
    for (const codes of CODE_SETS) {
      for (const attempts of [0, 2, 3]) {
        const seen = FAILURES.map((failure) => {
          const hit = results.find(
            (r) => r.c.codes === codes && r.c.attempts === attempts && r.c.failure === failure && r.c.fails === 9 && r.c.backoffMs === 15 && r.c.requestMs === undefined,
          );
          return `${hit?.attempts ?? "?"} for ${failure} (answered ${hit?.status ?? "?"})`;
        });
        console.log(`retry codes=[${codes.join(",")}] attempts=${attempts}: backend saw ${seen.join(", ")}`);
      }
    }
    const metrics = await plane.metrics.registry.metrics();
    const ruleRetries = metrics.split("\n").filter((l) => l.startsWith("meshgate_upstream_retries_total{") && l.includes('policy="rule"'));
    t.log(ruleRetries.slice(0, 6).join("\n"));
    t.true(ruleRetries.some((l) => l.includes('cause="500"') && l.includes('route="default/route-')), "rule retries counted with the status as cause");
    t.true(ruleRetries.some((l) => l.includes('cause="reset"')), "connection resets counted");
    t.false(ruleRetries.some((l) => l.includes('cause="503"')), "503 is listed nowhere, so never retried");
  } finally {
    await plane.drain(0);
    await backend.close();
  }
});

test("timeouts.request bounds every attempt and back-off together: 504 when the next try would not fit, fewer attempts", async (t) => {
  const backend = await startFailingBackend();
  // Back-off 200 ms: the first retry waits exactly 200 ms, later ones at least 200 ms.
  const retry = { codes: [500], attempts: 3, backoffMs: 200 };
  const bounds = [100, 300, 5000];
  const { port, plane } = await gatewayFor(
    backend,
    bounds.map((requestMs) => ({ retry, timeouts: { requestMs } })),
  );
  try {
    const rows: string[] = [];
    const table: [number, number, number, number][] = [
      // bound, failures before success, status, attempts at the backend
      [100, 9, 504, 1], // the first retry (200 ms) cannot fit in 100 ms
      [300, 9, 504, 2], // one retry at 200 ms fits; the next (>= 200 ms more) cannot
      [300, 1, 200, 2],
      [5000, 9, 500, 4], // attempts run out first: the last answer is relayed
      [5000, 3, 200, 4],
    ];
    for (const [bound, fails, status, attempts] of table) {
      const id = nextId();
      const r = await send(port, `/a${bounds.indexOf(bound)}/x`, { "x-test-id": id, "x-fail": "500", "x-fail-times": String(fails) });
      rows.push(`request=${bound}ms fails=${fails}: ${r.status} after ${backend.attempts(id)} attempts in ${r.ms.toFixed(0)} ms`);
      t.is(r.status, status, `bound ${bound} fails ${fails}`);
      t.is(backend.attempts(id), attempts, `bound ${bound} fails ${fails}`);
      if (status === 504) t.true(r.ms < bound + 400, `${r.ms} ms for a ${bound} ms bound`);
      // Never retried before the minimum back-off: 3 retries take at least 3 x 200 ms.
      if (attempts === 4) t.true(r.ms >= 3 * 200 - 5, `${r.ms} ms for 3 retries of >= 200 ms`);
    }
    console.log(`retry codes=[500] attempts=3 backoff=200ms: ${rows.join("; ")}`);
  } finally {
    await plane.drain(0);
    await backend.close();
  }
});

test("a try that runs out of timeouts.backendRequest is retried as a connection error, even with no codes listed", async (t) => {
  const backend = await startFailingBackend();
  const { port, plane } = await gatewayFor(backend, [
    { retry: { codes: [], attempts: 2 }, timeouts: { backendRequestMs: 150 } },
    { retry: { codes: [], attempts: 0 }, timeouts: { backendRequestMs: 150 } },
  ]);
  try {
    const id = nextId();
    const slow = { "x-fail": "slow", "x-slow-ms": "1000", "x-fail-times": "1" };
    const r = await send(port, "/a0/x", { "x-test-id": id, ...slow });
    t.is(r.status, 200);
    t.is(backend.attempts(id), 2);
    const none = nextId();
    const r0 = await send(port, "/a1/x", { "x-test-id": none, ...slow });
    t.is(r0.status, 504, "attempts: 0 retries nothing, not even the cluster's default");
    t.is(backend.attempts(none), 1);
  } finally {
    await plane.drain(0);
    await backend.close();
  }
});

test("a rule's retry replaces the cluster's: 503 is not retried unless listed; without one the cluster default still retries 503", async (t) => {
  const backend = await startFailingBackend();
  const { port, plane } = await gatewayFor(backend, [{ retry: { codes: [500], attempts: 2 } }, {}]);
  try {
    const ruled = nextId();
    t.is((await send(port, "/a0/x", { "x-test-id": ruled, "x-fail": "503", "x-fail-times": "1" })).status, 503);
    t.is(backend.attempts(ruled), 1);
    const plain = nextId();
    t.is((await send(port, "/a1/x", { "x-test-id": plain, "x-fail": "503", "x-fail-times": "1" })).status, 200);
    t.is(backend.attempts(plain), 2);
    const plain500 = nextId();
    t.is((await send(port, "/a1/x", { "x-test-id": plain500, "x-fail": "500", "x-fail-times": "1" })).status, 500);
    t.is(backend.attempts(plain500), 1);
  } finally {
    await plane.drain(0);
    await backend.close();
  }
});

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

test("request bodies: a small POST is resent byte for byte on each retry; one past 64 KiB is sent once and not retried", async (t) => {
  const backend = await startFailingBackend();
  const { port, plane } = await gatewayFor(backend, [{ retry: { codes: [500], attempts: 3, backoffMs: 5 } }, {}]);
  try {
    const small = randomBytes(20 * 1024);
    const id = nextId();
    const r = await send(port, "/a0/x", { "x-test-id": id, "x-fail": "500", "x-fail-times": "2" }, { method: "POST", body: small });
    t.is(r.status, 200);
    const seen = backend.bodies(id);
    t.is(seen.length, 3);
    t.deepEqual(seen.map((b) => b.sha), Array<string>(3).fill(sha(small)));
    t.deepEqual(seen.map((b) => b.bytes), Array<number>(3).fill(small.length));

    // Exactly at the bound is still kept; one byte more is not.
    const atBound = randomBytes(64 * 1024);
    const atId = nextId();
    t.is((await send(port, "/a0/x", { "x-test-id": atId, "x-fail": "500", "x-fail-times": "1" }, { method: "POST", body: atBound })).status, 200);
    t.is(backend.attempts(atId), 2);
    const big = randomBytes(64 * 1024 + 1);
    const bigId = nextId();
    const rb = await send(port, "/a0/x", { "x-test-id": bigId, "x-fail": "500", "x-fail-times": "1" }, { method: "POST", body: big });
    t.is(rb.status, 500, "the first attempt's answer is final");
    t.is(backend.attempts(bigId), 1);
    t.is(backend.bodies(bigId)[0]?.sha, sha(big));

    // The cluster's default policy (503, idempotent methods) now retries a PUT with a small body too.
    const putId = nextId();
    const put = randomBytes(1000);
    t.is((await send(port, "/a1/x", { "x-test-id": putId, "x-fail": "503", "x-fail-times": "1" }, { method: "PUT", body: put })).status, 200);
    t.deepEqual(backend.bodies(putId).map((b) => b.sha), [sha(put), sha(put)]);
    // ... but never a POST.
    const postId = nextId();
    t.is((await send(port, "/a1/x", { "x-test-id": postId, "x-fail": "503", "x-fail-times": "1" }, { method: "POST", body: put })).status, 503);
    t.is(backend.attempts(postId), 1);
    t.log(`POST 20 KiB: ${seen.length} attempts, identical bodies; 64 KiB: ${backend.attempts(atId)} attempts; 64 KiB + 1: ${backend.attempts(bigId)} attempt`);
  } finally {
    await plane.drain(0);
    await backend.close();
  }
});

test("a body still arriving when the first try is reset: the retry sends what came so far, then the rest as it comes", async (t) => {
  const backend = await startFailingBackend();
  const { port, plane } = await gatewayFor(backend, [{ retry: { codes: [], attempts: 2, backoffMs: 5 } }]);
  try {
    const parts = Array.from({ length: 6 }, () => randomBytes(3000));
    const whole = Buffer.concat(parts);
    async function* slowly() {
      for (const p of parts) {
        yield p;
        await new Promise((r) => setTimeout(r, 60));
      }
    }
    const id = nextId();
    const r = await send(
      port,
      "/a0/x",
      { "x-test-id": id, "x-fail": "reset-early", "x-fail-times": "1", "content-length": String(whole.length) },
      { method: "POST", body: Readable.from(slowly()) },
    );
    t.is(r.status, 200);
    t.is(backend.attempts(id), 2);
    // The reset attempt read nothing; the retry got every byte, in order.
    t.deepEqual(backend.bodies(id), [{ sha: sha(whole), bytes: whole.length }]);
  } finally {
    await plane.drain(0);
    await backend.close();
  }
});

test("timeouts.request \"0s\" disables the cluster's default bound; absent keeps it", async (t) => {
  const backend = await startFailingBackend();
  // A tiny cluster default (BackendTrafficPolicy timeout.http.requestTimeout 200 ms).
  const { port, plane } = await gatewayFor(backend, [{}, { timeouts: { requestMs: 0 } }], {
    timeouts: { connectMs: 1000, idleMs: 60_000, responseHeadMs: 200 },
    retry: { attempts: 0 },
  });
  try {
    const slow = { "x-fail": "slow", "x-slow-ms": "600" };
    const bounded = await send(port, "/a0/x", { "x-test-id": nextId(), ...slow });
    t.is(bounded.status, 504);
    t.regex(bounded.text, /upstream response timeout/);
    const unbounded = await send(port, "/a1/x", { "x-test-id": nextId(), ...slow });
    t.is(unbounded.status, 200);
    t.true(unbounded.ms >= 590, `${unbounded.ms} ms`);
    t.log(`cluster default 200 ms: no route timeout -> ${bounded.status} after ${bounded.ms.toFixed(0)} ms; timeouts.request 0s -> ${unbounded.status} after ${unbounded.ms.toFixed(0)} ms`);
  } finally {
    await plane.drain(0);
    await backend.close();
  }
});
