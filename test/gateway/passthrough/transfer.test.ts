// 64 MiB each way through one passthrough connection whose receivers read late and slowly:
// the bytes arrive intact, and the gateway (a child process, measured alone) holds only what
// its socket buffers hold, because it pauses each side while the other cannot take more.
import { type ChildProcess, fork } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import test from "ava";
import { freePort } from "../../support/net.js";
import { makeCa } from "../../support/tls-certs.js";
import type { ChildReply, ChildRequest } from "./gateway-child.js";
import { closer, listenOnLoopback } from "./harness.js";

const MIB = 1024 * 1024;
const TRANSFER_BYTES = 64 * MIB;
/** Receivers start reading this late: a gateway without backpressure would have read the
 * whole transfer from the fast sender and held it by then. */
const HOLD_MS = 1500;

interface Stream {
  bytes: number;
  sha256: string;
}

/** Sends TRANSFER_BYTES of fresh random data in 1 MiB pieces, waiting for 'drain' as it goes. */
async function send(socket: Duplex): Promise<Stream> {
  const hash = createHash("sha256");
  for (let sent = 0; sent < TRANSFER_BYTES; sent += MIB) {
    const piece = randomBytes(MIB);
    hash.update(piece);
    if (!socket.write(piece)) await new Promise((resolve) => socket.once("drain", resolve));
  }
  return { bytes: TRANSFER_BYTES, sha256: hash.digest("hex") };
}

/** Reads TRANSFER_BYTES, starting after HOLD_MS and pausing 5 ms after every 2 MiB. */
function receiveSlowly(socket: Duplex): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    let bytes = 0;
    let nextPause = 2 * MIB;
    socket.pause();
    setTimeout(() => socket.resume(), HOLD_MS);
    socket.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
      if (bytes >= TRANSFER_BYTES) resolve({ bytes, sha256: hash.digest("hex") });
      else if (bytes >= nextPause) {
        nextPause += 2 * MIB;
        socket.pause();
        setTimeout(() => socket.resume(), 5);
      }
    });
    socket.on("error", reject);
    socket.on("close", () => reject(new Error(`closed after ${bytes} bytes`)));
  });
}

function startChild(): { child: ChildProcess; ask: (request: ChildRequest) => Promise<ChildReply> } {
  const child = fork(fileURLToPath(new URL("./gateway-child.js", import.meta.url)), [], { execArgv: [] });
  const ask = (request: ChildRequest) =>
    new Promise<ChildReply>((resolve) => {
      child.once("message", (message: ChildReply) => resolve(message));
      child.send(request);
    });
  return { child, ask };
}

test("64 MiB each way with slow receivers arrives intact while the gateway's RSS stays flat", async (t) => {
  const ca = await makeCa();
  const leaf = await ca.issue(["big.example.com"]);
  let backendSide: { sent: Promise<Stream>; received: Promise<Stream> } | undefined;
  const backend = tls.createServer({ key: leaf.keyPem, cert: leaf.chainPem }, (socket) => {
    socket.on("error", () => undefined);
    backendSide = { received: receiveSlowly(socket), sent: send(socket) };
  });
  const backendPort = await listenOnLoopback(backend);
  t.teardown(closer(backend));

  const { child, ask } = startChild();
  t.teardown(() => void child.kill());
  const port = await freePort();
  t.deepEqual(await ask({ kind: "start", port, backendPort }), { kind: "started" });
  // A short session first, so code loaded on the first connection is not counted as growth.
  await new Promise<void>((resolve, reject) => {
    const warm = tls.connect({ host: "127.0.0.1", port, servername: "big.example.com", ca: ca.certPem });
    warm.once("secureConnect", () => (warm.destroy(), resolve()));
    warm.once("error", reject);
  });
  await ask({ kind: "baseline" });

  const client = tls.connect({ host: "127.0.0.1", port, servername: "big.example.com", ca: ca.certPem });
  await new Promise((resolve) => client.once("secureConnect", resolve));
  const [clientSent, clientReceived] = await Promise.all([send(client), receiveSlowly(client)]);
  t.truthy(backendSide);
  const [backendSent, backendReceived] = await Promise.all([backendSide?.sent, backendSide?.received]);
  client.destroy();

  t.deepEqual(backendReceived, clientSent, "upstream intact");
  t.deepEqual(clientReceived, backendSent, "downstream intact");

  const report = await ask({ kind: "report" });
  if (report.kind !== "report") return t.fail(JSON.stringify(report));
  const growth = (report.peakRss - report.baselineRss) / MIB;
  t.log(`gateway RSS ${Math.round(report.baselineRss / MIB)} MiB, peak growth ${growth.toFixed(1)} MiB`);
  t.true(growth < 64, `gateway RSS grew ${growth.toFixed(1)} MiB while relaying ${(2 * TRANSFER_BYTES) / MIB} MiB`);
  t.true(report.bytes >= 2 * TRANSFER_BYTES, `relayed ${report.bytes} bytes`);
  t.deepEqual(report.errors, []);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.send({ kind: "stop" } satisfies ChildRequest);
  await exited;
});
