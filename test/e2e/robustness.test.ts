// Bad input never crashes the gateway, and big bodies stream through in bounded memory.
import { connect } from "node:net";
import { Readable } from "node:stream";
import test from "ava";
import { Agent, request } from "undici";
import { echo, startBackend, type TestBackend } from "../support/backend.js";
import { basicConfig, configFolder, type RunningGateway, startMeshgate } from "../support/meshgate.js";
import { freePort } from "../support/net.js";
import { sampleRss } from "../support/process-memory.js";

/** Sends raw bytes on a fresh connection; resolves with whatever came back before close or timeout. */
function raw(port: number, bytes: Buffer | string, timeoutMs = 300): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    let got = "";
    const done = () => {
      sock.destroy();
      resolve(got);
    };
    sock.setTimeout(timeoutMs, done);
    sock.on("data", (d) => {
      got += d.toString("latin1");
    });
    sock.on("error", done);
    sock.on("close", done);
    sock.write(bytes);
  });
}

/** Requests uWebSockets.js parses but the gateway must refuse: each gets 400. */
const MALFORMED = [
  "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
  "GET / HTTP/1.1\r\nHost:\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
  "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
];

/** Requests uWebSockets.js 20.30 itself refuses by closing the connection (it sends no 400). */
const UNPARSEABLE = [
  "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
  "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  "get / HTTP/1.1\r\nHost: x\r\n\r\n",
];

function randomRequest(i: number): Buffer {
  const r = (n: number) => Math.floor(Math.random() * n);
  switch (i % 6) {
    case 0:
      return Buffer.from(Array.from({ length: 1 + r(300) }, () => r(256)));
    case 1:
      return Buffer.from(
        `${"GET POST PUT \u0000 G\tT".split(" ")[r(5)]} /${"x".repeat(r(50))} HTTP/1.${r(3)}\r\nHost: a\r\n\r\n`,
        "latin1",
      );
    case 2:
      return Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\n${"Bad Header No Colon\r\n".repeat(1 + r(3))}\r\n`);
    case 3:
      return Buffer.from(
        `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n${"q".repeat(r(100))}\r\n`,
      );
    case 4:
      return Buffer.from(`GET /${"%".repeat(r(20))}\u0001 HTTP/1.1\r\nHost: \u0000\r\n\r\n`, "latin1");
    default: {
      const all = [...MALFORMED, ...UNPARSEABLE];
      return Buffer.from(all[r(all.length)] ?? "");
    }
  }
}

async function withGateway(
  run: (port: number, gw: RunningGateway, backend: TestBackend) => Promise<void>,
  collectBody = true,
) {
  const backend = await startBackend("robust", collectBody);
  const port = await freePort();
  const folder = configFolder();
  folder.write("gateway.yaml", basicConfig(port, [backend.port]));
  const gw = await startMeshgate(folder.dir, ["--access-log", "off"]);
  try {
    await run(port, gw, backend);
  } finally {
    await gw.stop();
    await backend.close();
  }
}

test("malformed requests get 400 and thousands of random ones leave the gateway serving", async (t) => {
  await withGateway(async (port, gw) => {
    for (const m of MALFORMED) t.regex(await raw(port, m), /^HTTP\/1\.1 400 /, JSON.stringify(m));
    for (const m of UNPARSEABLE) t.is(await raw(port, m, 2000), "", JSON.stringify(m));
    const total = 3000;
    let next = 0;
    const worker = async () => {
      while (next < total) await raw(port, randomRequest(next++), 200);
    };
    await Promise.all(Array.from({ length: 50 }, worker));
    t.is(gw.proc.exitCode, null);
    const ok = await fetch(`http://127.0.0.1:${port}/after`);
    t.is(ok.status, 200);
    t.is(((await ok.json()) as { url: string }).url, "/after");
  });
});

test("1 GiB uploads and downloads stream through with bounded gateway memory", async (t) => {
  const GiB = 1024 * 1024 * 1024;
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  await withGateway(async (port, gw, backend) => {
    const answer = echo("big");
    backend.behave((req, res, body, bytes) => {
      if (req.url !== "/download") {
        answer(req, res, body, bytes);
        return;
      }
      res.writeHead(200, { "content-length": String(GiB) });
      let sent = 0;
      const pump = () => {
        while (sent < GiB) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once("drain", pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const agent = new Agent();
    const pid = gw.proc.pid ?? 0;
    const samples = sampleRss(pid);
    const baseline = samples.start;
    const peak = () => samples.stop().peak;
    async function* upload() {
      for (let sent = 0; sent < GiB; sent += chunk.length) yield chunk;
    }
    t.teardown(() => samples.stop());
    // Chunked: uWebSockets.js 20.30 refuses a Content-Length of 10^9 or more outright.
    const up = await request(`http://127.0.0.1:${port}/upload`, {
      method: "POST",
      body: Readable.from(upload()),
      dispatcher: agent,
    });
    t.is(up.statusCode, 200);
    t.is(((await up.body.json()) as { bodyBytes: number }).bodyBytes, GiB);

    const down = await request(`http://127.0.0.1:${port}/download`, { dispatcher: agent });
    t.is(down.statusCode, 200);
    let received = 0;
    for await (const part of down.body) received += (part as Buffer).length;
    t.is(received, GiB);
    const grown = peak() - baseline;
    t.log(`gateway RSS baseline ${baseline.toFixed(0)} MB, peak growth ${grown.toFixed(0)} MB`);
    t.true(grown < 150, `RSS grew by ${grown.toFixed(0)} MB`);
    await agent.close();
  }, false);
});

test("an upstream that answers before reading the upload leaves the gateway serving", async (t) => {
  const { createServer } = await import("node:http");
  let early = true;
  const server = createServer((req, res) => {
    if (early && req.method === "POST") {
      res.writeHead(400, { "content-length": "3", connection: "close" }).end("no\n");
      req.socket.destroy();
      return;
    }
    res.end("fine");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const backendPort = (server.address() as { port: number }).port;
  const port = await freePort();
  const folder = configFolder();
  folder.write("gateway.yaml", basicConfig(port, [backendPort]));
  const gw = await startMeshgate(folder.dir, ["--access-log", "off"]);
  try {
    const chunk = Buffer.alloc(256 * 1024, 0x62);
    async function* upload() {
      for (let i = 0; i < 200; i++) yield chunk;
    }
    for (let i = 0; i < 3; i++) {
      try {
        const res = await request(`http://127.0.0.1:${port}/up`, {
          method: "POST",
          body: Readable.from(upload()),
        });
        t.true([400, 502, 503].includes(res.statusCode), `status ${res.statusCode}`);
        await res.body.text();
      } catch {
        // The gateway may cut an upload the upstream refused; what matters is that it stays up.
      }
    }
    early = false;
    t.is(gw.proc.exitCode, null);
    const ok = await fetch(`http://127.0.0.1:${port}/after`);
    t.is(ok.status, 200);
    t.is(await ok.text(), "fine");
  } finally {
    await gw.stop();
    server.close();
  }
});

test("a client that never finishes its request head is disconnected (uWebSockets.js's 10 s timeout)", async (t) => {
  await withGateway(async (port) => {
    const sock = connect(port, "127.0.0.1");
    const started = Date.now();
    sock.write("GET / HTTP/1.1\r\nHost: slow\r\nX-Drip: ");
    const drip = setInterval(() => sock.write("a"), 1000);
    const closedAfter = await new Promise<number>((resolve) => {
      sock.on("close", () => resolve(Date.now() - started));
      sock.on("error", () => {});
    });
    clearInterval(drip);
    t.true(closedAfter >= 9000 && closedAfter < 13_000, `closed after ${closedAfter} ms`);
  });
});
