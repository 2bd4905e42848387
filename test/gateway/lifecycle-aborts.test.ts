// Counters that always come back: a client that leaves at any stage of its request (plain or
// WebSocket upgrade) ends that request exactly once. After each abort the active-request gauge,
// as /metrics shows it, returns to zero, each request is counted once in
// meshgate_http_requests_total, the upstream connections it held are released, and a drain
// completes at once instead of waiting out its timeout.
import test, { type ExecutionContext } from "ava";
import { connect, type Socket } from "node:net";
import { DataPlane } from "../../gateway/data-plane.js";
import { freePort, waitFor } from "../support/net.js";
import { scriptedUpstream, seriesValue, type ScriptedUpstream, upgradeHead } from "../support/scripted-upstream.js";
import { cluster, simplePort, snapshot } from "../support/snapshot.js";

type Kind = "request" | "upgrade";
type Abort = "close" | "reset";

interface Stage {
  kind: Kind;
  name: string;
  /** Requests the scenario makes (all of them are aborted). */
  requests: number;
  /** The upstream holds no connection once every client left (false where the pool may keep an idle one). */
  releasesUpstream: boolean;
  /** Opens the client(s) and returns once the request is at the stage; the returned sockets are then aborted. */
  reach(port: number, upstream: ScriptedUpstream, plane: DataPlane): Promise<Socket[]>;
}

function client(port: number, bytes: string): { socket: Socket; received: () => string } {
  const socket = connect(port, "127.0.0.1");
  let text = "";
  socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
  socket.on("error", () => {});
  socket.write(bytes);
  return { socket, received: () => text };
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: a.test\r\n\r\n`;

const STAGES: Stage[] = [
  {
    kind: "request",
    name: "as soon as the gateway has its head (upstream connect under way)",
    requests: 1,
    releasesUpstream: false,
    reach: async (port, _upstream, plane) => {
      const c = client(port, get("/hang/at-once"));
      await waitFor(() => plane.activeRequests === 1, 5000, 1);
      return [c.socket];
    },
  },
  {
    kind: "request",
    name: "queued for an upstream connection (before connect)",
    requests: 2,
    releasesUpstream: true,
    reach: async (port, upstream, plane) => {
      const blocker = client(port, get("/hang/blocker")).socket;
      await waitFor(() => upstream.requests.length === 1);
      const queued = client(port, get("/hang/queued")).socket;
      await waitFor(() => plane.activeRequests === 2);
      return [queued, blocker];
    },
  },
  {
    kind: "request",
    name: "awaiting the response head (upstream connected)",
    requests: 1,
    releasesUpstream: true,
    reach: async (port, upstream) => {
      const c = client(port, get("/hang/head"));
      await waitFor(() => upstream.requests.length === 1);
      return [c.socket];
    },
  },
  {
    kind: "request",
    name: "mid request body",
    requests: 1,
    releasesUpstream: true,
    reach: async (port, upstream) => {
      const c = client(port, `POST /hang/body HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1000\r\n\r\n${"x".repeat(100)}`);
      await waitFor(() => upstream.requests.length === 1 && upstream.bodyBytes() >= 100);
      return [c.socket];
    },
  },
  {
    kind: "request",
    name: "mid response body",
    requests: 1,
    releasesUpstream: true,
    reach: async (port) => {
      const c = client(port, get("/half"));
      await waitFor(() => c.received().includes("0123456789"));
      return [c.socket];
    },
  },
  {
    kind: "upgrade",
    name: "as soon as the gateway has its head (upstream connect under way)",
    requests: 1,
    releasesUpstream: true,
    reach: async (port, _upstream, plane) => {
      const c = client(port, upgradeHead("/ws-silent/at-once"));
      await waitFor(() => plane.activeRequests === 1, 5000, 1);
      return [c.socket];
    },
  },
  {
    kind: "upgrade",
    name: "during the upstream handshake",
    requests: 1,
    releasesUpstream: true,
    reach: async (port, upstream) => {
      const c = client(port, upgradeHead("/ws-silent/handshake"));
      await waitFor(() => upstream.requests.length === 1);
      return [c.socket];
    },
  },
  {
    kind: "upgrade",
    name: "before the upstream's refusal arrives",
    requests: 1,
    releasesUpstream: true,
    reach: async (port, upstream) => {
      const c = client(port, upgradeHead("/ws-refuse-late"));
      await waitFor(() => upstream.requests.length === 1);
      return [c.socket];
    },
  },
  {
    kind: "upgrade",
    name: "after the 101 (WebSocket open)",
    requests: 1,
    releasesUpstream: true,
    reach: async (port) => {
      const c = client(port, upgradeHead("/ws-open"));
      await waitFor(() => c.received().startsWith("HTTP/1.1 101"));
      return [c.socket];
    },
  },
];

const ABORTS: Abort[] = ["close", "reset"];

async function metricsText(plane: DataPlane): Promise<string> {
  return plane.metrics.registry.metrics();
}

function requestsCounted(text: string): number {
  return text
    .split("\n")
    .filter((l) => l.startsWith("meshgate_http_requests_total{"))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}

const drainTimes: number[] = [];

async function runCase(t: ExecutionContext, stage: Stage, abort: Abort): Promise<void> {
  const upstream = await scriptedUpstream();
  const port = await freePort();
  const plane = new DataPlane();
  try {
    const applied = await plane.apply(
      snapshot({
        version: 1,
        ports: [simplePort(port, [{ backends: [{ cluster: "c" }] }])],
        clusters: [cluster("c", [upstream.port], { connectionsPerEndpoint: 1 })],
      }),
    );
    t.deepEqual(applied.portErrors, []);
    const sockets = await stage.reach(port, upstream, plane);
    for (const s of sockets) {
      if (abort === "reset") s.resetAndDestroy();
      else s.destroy();
    }
    await waitFor(async () => seriesValue(await metricsText(plane), "meshgate_downstream_active_requests") === 0, 5000).catch(() => {});
    const text = await metricsText(plane);
    t.is(seriesValue(text, "meshgate_downstream_active_requests"), 0, "active requests after the abort");
    t.is(requestsCounted(text), stage.requests, "each request counted once");
    if (stage.releasesUpstream) {
      await waitFor(() => upstream.open() === 0, 5000).catch(() => {});
      t.is(upstream.open(), 0, "upstream connections left open");
    }
    const started = performance.now();
    const drained = await plane.drain(20_000);
    const took = performance.now() - started;
    drainTimes.push(took);
    t.true(drained, "drain completed");
    // At once: nothing is in flight; 20 s would mean a request was never counted as finished.
    t.true(took < 5000, `drain took ${took.toFixed(0)} ms`);
  } finally {
    await plane.drain(0);
    await upstream.close();
  }
}

for (const stage of STAGES) {
  for (const abort of ABORTS) {
    test.serial(`${stage.kind}: the client leaves ${stage.name} (${abort})`, (t) => runCase(t, stage, abort));
  }
}

test.after.always("drain times", () => {
  if (drainTimes.length === 0) return;
  const sorted = [...drainTimes].sort((a, b) => a - b);
  console.log(
    `    ${STAGES.length} stages x ${ABORTS.length} aborts = ${drainTimes.length} cases; drain after the aborts: median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} ms, max ${sorted[sorted.length - 1]?.toFixed(1)} ms (timeout 20000 ms)`,
  );
});
