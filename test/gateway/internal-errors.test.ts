// Exceptions contained: an exception at any stage of handling a request becomes a 500 (a reset
// once the response head is out, a 1011 close on an open WebSocket), is counted in
// meshgate_internal_errors_total{where}, ends the request exactly once, and the gateway goes on
// serving. No request or configuration is known to make handling throw, so the faults are
// injected through the test-only hook of gateway/http/contain.ts, at every stage it names.
import test from "ava";
import { connect } from "node:net";
import { DataPlane } from "../../gateway/data-plane.js";
import { faultInjection, type FaultStage } from "../../gateway/http/contain.js";
import { freePort, waitFor } from "../support/net.js";
import { rawExchange } from "../support/raw-http.js";
import { scriptedUpstream, seriesValue, upgradeHead } from "../support/scripted-upstream.js";
import { cluster, simplePort, snapshot } from "../support/snapshot.js";

interface Outcome {
  /** What the client saw: a status, "reset" (head, then the connection cut), or a WebSocket close code. */
  seen: string;
}

interface Case {
  stage: FaultStage;
  kind: "request" | "upgrade";
  where: string;
  expect: string;
  run(port: number): Promise<Outcome>;
}

async function plain(port: number, path: string): Promise<Outcome> {
  const r = await rawExchange(port, [Buffer.from(`GET ${path} HTTP/1.1\r\nHost: a.test\r\n\r\n`)], ["GET"], { timeoutMs: 5000 });
  const response = r.responses[0];
  if (response !== undefined) return { seen: `${response.status}${r.closed ? " close" : ""}` };
  // A head without its whole body, then the connection closed: a reset mid-response.
  return { seen: r.closed && r.trailing.toString("latin1").startsWith("HTTP/1.1 200") ? "reset" : `none (${r.trailing.length} bytes)` };
}

async function upgrade(port: number, path: string): Promise<Outcome> {
  const r = await rawExchange(port, [Buffer.from(upgradeHead(path))], ["GET"], { timeoutMs: 5000 });
  return { seen: String(r.responses[0]?.status ?? "none") };
}

/** Opens a WebSocket through the gateway, sends one text message, and reads the close code it gets. */
function wsMessage(port: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let buf = Buffer.alloc(0);
    let opened = false;
    const timer = setTimeout(() => done("none"), 5000);
    const done = (seen: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ seen });
    };
    socket.on("error", () => {});
    socket.on("close", () => done(opened ? "closed without a close frame" : "none"));
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!opened) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        opened = buf.toString("latin1", 0, 12) === "HTTP/1.1 101";
        if (!opened) return done(buf.toString("latin1", 9, 12));
        buf = buf.subarray(end + 4);
        const mask = [1, 2, 3, 4];
        const payload = Buffer.from("hi").map((b, i) => b ^ (mask[i % 4] as number));
        socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | 2, ...mask]), payload]));
      }
      // A close frame from the server: 0x88, length, code.
      if (buf.length >= 4 && buf[0] === 0x88) done(`ws close ${buf.readUInt16BE(2)}`);
    });
    socket.write(upgradeHead("/ws-open"));
  });
}

const CASES: Case[] = [
  { stage: "admit", kind: "request", where: "request", expect: "500 close", run: (p) => plain(p, "/ok") },
  { stage: "dispatch", kind: "request", where: "request", expect: "500 close", run: (p) => plain(p, "/ok") },
  { stage: "response-head", kind: "request", where: "upstream", expect: "500 close", run: (p) => plain(p, "/ok") },
  { stage: "response-body", kind: "request", where: "upstream", expect: "reset", run: (p) => plain(p, "/half") },
  { stage: "admit", kind: "upgrade", where: "upgrade", expect: "500", run: (p) => upgrade(p, "/ws-open") },
  { stage: "upgrade-open", kind: "upgrade", where: "upgrade", expect: "500", run: (p) => upgrade(p, "/ws-open") },
  { stage: "websocket-message", kind: "upgrade", where: "websocket", expect: "ws close 1011", run: wsMessage },
];

function internalErrors(text: string, where: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`meshgate_internal_errors_total{where="${where}"}`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}

test.serial("an exception at each stage: 500 (or a reset, or a 1011 close), counted by where, the request ended, the gateway serving", async (t) => {
  const upstream = await scriptedUpstream();
  const port = await freePort();
  const plane = new DataPlane();
  const stderrWrite = process.stderr.write.bind(process.stderr);
  const logged: string[] = [];
  // The data plane without an event log writes internal errors to stderr: collect them.
  process.stderr.write = ((chunk: string | Uint8Array) => {
    logged.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    await plane.apply(snapshot({ version: 1, ports: [simplePort(port, [{ backends: [{ cluster: "c" }] }])], clusters: [cluster("c", [upstream.port])] }));
    const summary: string[] = [];
    for (const c of CASES) {
      const before = internalErrors(await plane.metrics.registry.metrics(), c.where);
      const loggedBefore = logged.length;
      let thrown = 0;
      faultInjection.hook = (stage) => {
        if (stage !== c.stage || thrown > 0) return;
        thrown++;
        throw new Error(`injected fault at ${stage}`);
      };
      let outcome: Outcome;
      try {
        outcome = await c.run(port);
      } finally {
        faultInjection.hook = undefined;
      }
      const label = `${c.kind} ${c.stage}`;
      t.is(thrown, 1, `${label}: the fault point was reached`);
      t.is(outcome.seen, c.expect, label);
      await waitFor(() => plane.activeRequests === 0, 5000).catch(() => {});
      t.is(plane.activeRequests, 0, `${label}: the request ended`);
      const text = await plane.metrics.registry.metrics();
      t.is(internalErrors(text, c.where) - before, 1, `${label}: counted once under where="${c.where}"`);
      t.is(seriesValue(text, "meshgate_downstream_active_requests"), 0, label);
      const lines = logged.slice(loggedBefore).join("");
      t.is(lines.split("injected fault").length - 1, 1, `${label}: logged once`);
      t.regex(lines, /at faultPoint|at .*contain\.js/, `${label}: with its stack`);
      // Alive and serving: the next request is proxied.
      t.is((await plain(port, "/ok")).seen, "200", `${label}: the next request`);
      summary.push(`${label} -> ${outcome.seen} (where="${c.where}")`);
    }
    t.log(summary.join("; "));
    await waitFor(() => upstream.open() <= 1, 5000).catch(() => {});
    // The WebSocket and aborted upstream requests let their connections go (one keep-alive may stay).
    t.true(upstream.open() <= 1, `upstream connections open: ${upstream.open()}`);
  } finally {
    process.stderr.write = stderrWrite;
    faultInjection.hook = undefined;
    await plane.drain(1000);
    await upstream.close();
  }
});
