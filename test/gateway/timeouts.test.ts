// Every wait has a bound: a hung backend is answered 504 within the request's bound however many
// retries are configured, a silent WebSocket upstream gets 504 and its connection closed, and a
// duration no Node timer can hold is refused with the reason instead of firing at once.
import test from "ava";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { DataPlane } from "../../gateway/data-plane.js";
import { type ClusterInput, MAX_TIMER_MS, type SnapshotInput, validateSnapshot } from "../../gateway/snapshot.js";
import { gateway, httpRoute, listener, meshgatePolicy, routeCondition, run, service } from "../support/controller-yaml.js";
import { freePort, waitFor } from "../support/net.js";
import { rawExchange } from "../support/raw-http.js";
import { scriptedUpstream, upgradeHead } from "../support/scripted-upstream.js";
import { cluster, simplePort, snapshot } from "../support/snapshot.js";

/** One GET through a fresh gateway to a backend that never answers; the status, the time and the tries the backend saw. */
async function hungRequest(
  route: { requestTimeoutMs?: number },
  clusterExtra: Partial<ClusterInput>,
  target = "/hang",
): Promise<{ status: number | undefined; ms: number; tries: number; body: string }> {
  const upstream = await scriptedUpstream();
  const port = await freePort();
  const plane = new DataPlane();
  try {
    await plane.apply(
      snapshot({
        version: 1,
        ports: [simplePort(port, [{ backends: [{ cluster: "c" }], ...route }])],
        clusters: [cluster("c", [upstream.port], clusterExtra)],
      }),
    );
    const started = performance.now();
    const answer = await rawExchange(port, [Buffer.from(`GET ${target} HTTP/1.1\r\nHost: a.test\r\n\r\n`)], ["GET"], { timeoutMs: 20_000 });
    const ms = performance.now() - started;
    const r = answer.responses[0];
    return { status: r?.status, ms, tries: upstream.requests.length, body: r?.body.toString() ?? "" };
  } finally {
    await plane.drain(0);
    await upstream.close();
  }
}

test("the cluster's default bound covers the whole request: retries configured, a hung backend gets one try and 504 in time", async (t) => {
  // Before: 500 ms per try and two retries, so 1.5 s and three GETs at the backend.
  const r = await hungRequest({}, { timeouts: { connectMs: 1000, idleMs: 60_000, responseHeadMs: 500 }, retry: { attempts: 2 } });
  t.log(`default bound 500 ms, 2 retries: ${r.status} after ${r.ms.toFixed(0)} ms, ${r.tries} try at the backend`);
  t.is(r.status, 504);
  t.regex(r.body, /upstream response timeout/);
  t.true(r.ms >= 480 && r.ms < 2500, `${r.ms} ms`);
  t.is(r.tries, 1);
});

test("a route timeout bounds every try and back-off: per-try timeouts retry inside it, never past it", async (t) => {
  // timeouts.request 700 ms, the retry policy's perRetry.timeout 250 ms, up to 4 retries: tries
  // start at about 0, 250-300, 500-600 ms; none may start once the bound is spent.
  const r = await hungRequest({ requestTimeoutMs: 700 }, { retry: { attempts: 4, perTryTimeoutMs: 250, backoffBaseMs: 25, backoffMaxMs: 50 } });
  t.log(`route bound 700 ms, per try 250 ms, 4 retries: ${r.status} after ${r.ms.toFixed(0)} ms, ${r.tries} tries at the backend`);
  t.is(r.status, 504);
  t.true(r.ms >= 680 && r.ms < 2700, `${r.ms} ms`);
  // Five tries of 250 ms would take 1.25 s: at most three fit in 700 ms.
  t.true(r.tries >= 2 && r.tries <= 3, `${r.tries} tries`);
});

test("the default bound is 15 s to the response head, as README's Timeouts table says, and the controller applies it", (t) => {
  const { snapshot: applied } = run(`${gateway("gw", "[{name: web, protocol: HTTP, port: 8080}]")}${service("api", "[{port: 80}]")}${httpRoute(
    "r",
    "parentRefs: [{name: gw}]\nrules: [{backendRefs: [{name: api, port: 80}]}]",
  )}`);
  t.is(applied.clusters[0]?.timeouts.responseHeadMs, 15_000);
  t.deepEqual(listener(applied, "default/gw/web").actions[0]?.timeouts, {});
  const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
  const table = readme.slice(readme.indexOf("### Timeouts"));
  const row = table.split("\n").find((l) => l.includes("timeout.http.requestTimeout"));
  t.truthy(row, "README Timeouts table has the whole-request row");
  t.regex(row ?? "", /\| 15 s \|/);
});

test("a silent WebSocket upstream: every client gets 504 within the bound and every upstream connection is closed", async (t) => {
  const upstream = await scriptedUpstream();
  const port = await freePort();
  const plane = new DataPlane();
  const clients = 20;
  try {
    await plane.apply(
      snapshot({
        version: 1,
        ports: [simplePort(port, [{ backends: [{ cluster: "c" }], requestTimeoutMs: 500 }])],
        clusters: [cluster("c", [upstream.port])],
      }),
    );
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: clients }, (_, i) => rawExchange(port, [Buffer.from(upgradeHead(`/ws-silent/${i}`))], ["GET"], { timeoutMs: 10_000 })),
    );
    const ms = performance.now() - started;
    const statuses = answers.map((a) => a.responses[0]?.status);
    t.deepEqual(statuses, Array<number>(clients).fill(504));
    t.regex(answers[0]?.responses[0]?.body.toString() ?? "", /handshake timeout/);
    t.true(ms >= 480 && ms < 5000, `${ms} ms`);
    await waitFor(() => upstream.open() === 0, 5000).catch(() => {});
    t.log(`${clients} upgrades to a silent upstream, bound 500 ms: all ${statuses[0]} after ${ms.toFixed(0)} ms; upstream connections accepted ${upstream.accepted()}, open now ${upstream.open()}`);
    t.is(upstream.accepted(), clients);
    t.is(upstream.open(), 0);
    t.is(plane.activeRequests, 0);
  } finally {
    await plane.drain(0);
    await upstream.close();
  }
});

test("the cluster's connect timeout bounds only the WebSocket connect: a live upstream completes its handshake", async (t) => {
  const upstream = await scriptedUpstream();
  const port = await freePort();
  const plane = new DataPlane();
  try {
    await plane.apply(
      snapshot({
        version: 1,
        ports: [simplePort(port, [{ backends: [{ cluster: "c" }] }])],
        clusters: [cluster("c", [upstream.port], { timeouts: { connectMs: 300, idleMs: 60_000, responseHeadMs: 5000 } })],
      }),
    );
    // The connect timer is cleared on connect: a live upstream is unaffected by a short connect bound.
    const ws = await rawExchange(port, [Buffer.from(upgradeHead("/ws-open"))], ["GET"], { timeoutMs: 5000 });
    t.is(ws.responses[0]?.status, 101);
  } finally {
    await plane.drain(0);
    await upstream.close();
  }
});

const OVER = MAX_TIMER_MS + 1;

/** Every duration field of the Snapshot, as a setter on a small valid input. */
const DURATION_FIELDS: [string, (s: SnapshotInput, ms: number) => void][] = [
  ["route timeouts.requestMs", (s, ms) => (s.ports![0]!.listeners[0]!.actions![0]!.timeouts = { requestMs: ms })],
  ["route timeouts.backendRequestMs", (s, ms) => (s.ports![0]!.listeners[0]!.actions![0]!.timeouts = { backendRequestMs: ms })],
  ["client headerTimeoutMs", (s, ms) => (s.ports![0]!.client = { headerTimeoutMs: ms })],
  ["client idleTimeoutMs", (s, ms) => (s.ports![0]!.client = { idleTimeoutMs: ms })],
  ["retry perTryTimeoutMs", (s, ms) => (s.clusters![0]!.retry = { perTryTimeoutMs: ms })],
  ["retry backoffBaseMs", (s, ms) => (s.clusters![0]!.retry = { backoffBaseMs: ms })],
  ["retry backoffMaxMs", (s, ms) => (s.clusters![0]!.retry = { backoffMaxMs: ms })],
  ["outlier baseEjectionMs", (s, ms) => (s.clusters![0]!.outlier = { baseEjectionMs: ms })],
  ["outlier maxEjectionMs", (s, ms) => (s.clusters![0]!.outlier = { maxEjectionMs: ms })],
  ["cluster connectMs", (s, ms) => (s.clusters![0]!.timeouts = { connectMs: ms })],
  ["cluster idleMs", (s, ms) => (s.clusters![0]!.timeouts = { idleMs: ms })],
  ["cluster responseHeadMs", (s, ms) => (s.clusters![0]!.timeouts = { responseHeadMs: ms })],
];

test("every Snapshot duration is refused past 2^31-1 ms with the reason, and accepted at it", (t) => {
  for (const [field, set] of DURATION_FIELDS) {
    for (const [ms, ok] of [
      [MAX_TIMER_MS, true],
      [OVER, false],
      [30 * 24 * 3_600_000, false],
    ] as const) {
      const input: SnapshotInput = { version: 1, ports: [simplePort(8080, [{ backends: [{ cluster: "c" }] }])], clusters: [cluster("c", [9000])] };
      set(input, ms);
      const result = validateSnapshot(input);
      t.is(result.ok, ok, `${field} = ${ms}`);
      if (!result.ok) t.regex(result.errors.join("\n"), /at most 2147483647 ms \(24\.8 days\), the longest delay a Node timer holds/, field);
    }
  }
});

test("the controller refuses a 720h route timeout and policy durations past 24.8 days, with the reason in status", (t) => {
  const gw = gateway("gw", "[{name: web, protocol: HTTP, port: 8080}]");
  const api = service("api", "[{port: 80}]");
  for (const field of ["request", "backendRequest"]) {
    const { snapshot: applied, status } = run(`${gw}${api}${httpRoute(
      "r",
      `parentRefs: [{name: gw}]\nrules:\n- timeouts: {${field}: 720h}\n  backendRefs: [{name: api, port: 80}]`,
    )}`);
    const c = routeCondition(status, "r", "Accepted");
    t.is(c?.status, "False", field);
    t.regex(c?.message ?? "", new RegExp(`timeouts.${field} "720h" is longer than 2147483647 ms`), field);
    // The rule is not served with a clamped timer: it answers 500, as any rule meshgate cannot implement.
    t.deepEqual(listener(applied, "default/gw/web").actions[0]?.timeouts, {}, field);
    t.is(listener(applied, "default/gw/web").actions[0]?.backends[0]?.cluster, null, field);
  }
  // 596h31m23s647ms is the longest that holds.
  const { status: fine } = run(`${gw}${api}${httpRoute("r", "parentRefs: [{name: gw}]\nrules:\n- timeouts: {request: 596h31m23s647ms}\n  backendRefs: [{name: api, port: 80}]")}`);
  t.is(routeCondition(fine, "r", "Accepted")?.status, "True");
  const specs = [
    "retry: {perRetry: {timeout: 720h}}",
    "retry: {perRetry: {backOff: {maxInterval: 99999h}}}",
    "healthCheck: {passive: {maxEjectionTime: 597h}}",
    "timeout: {tcp: {connectTimeout: 720h}}",
    "timeout: {http: {requestTimeout: 720h, connectionIdleTimeout: 1s}}",
  ];
  for (const spec of specs) {
    const { status, snapshot: applied } = run(`${gw}${api}${httpRoute("r", "parentRefs: [{name: gw}]\nrules: [{backendRefs: [{name: api, port: 80}]}]")}
${meshgatePolicy("BackendTrafficPolicy", "long", `targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]\n${spec}`)}`);
    const condition = status.policies[0]?.conditions[0];
    t.is(condition?.status, "False", spec);
    t.regex(condition?.message ?? "", /is longer than 2147483647 ms \(596h31m23s647ms, 24\.8 days\)/, spec);
    // The refused policy shapes nothing: the defaults hold.
    t.is(applied.clusters[0]?.timeouts.responseHeadMs, 15_000, spec);
  }
});

test("a client that leaves during a WebSocket upstream handshake releases the upstream connection at once", async (t) => {
  const upstream = await scriptedUpstream();
  const port = await freePort();
  const plane = new DataPlane();
  try {
    await plane.apply(snapshot({ version: 1, ports: [simplePort(port, [{ backends: [{ cluster: "c" }] }])], clusters: [cluster("c", [upstream.port])] }));
    const sockets = Array.from({ length: 30 }, (_, i) => {
      const s = connect(port, "127.0.0.1");
      s.on("error", () => {});
      s.write(upgradeHead(`/ws-silent/${i}`));
      return s;
    });
    await waitFor(() => upstream.requests.length === sockets.length, 5000);
    t.is(upstream.open(), sockets.length);
    const left = performance.now();
    for (const s of sockets) s.destroy();
    await waitFor(() => upstream.open() === 0, 5000).catch(() => {});
    const ms = performance.now() - left;
    t.log(`${sockets.length} clients left during the handshake: upstream connections open ${upstream.open()} after ${ms.toFixed(0)} ms`);
    t.is(upstream.open(), 0);
    // At once, not after the handshake bound (15 s by default).
    t.true(ms < 3000, `${ms} ms`);
    t.is(plane.activeRequests, 0);
  } finally {
    await plane.drain(0);
    await upstream.close();
  }
});
