// Request bodies: exact Content-Length, chunked without it, errors, backpressure, early answers.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import test from "ava";
import { H1Pool } from "../../../../gateway/upstream/h1/pool.js";
import { scriptedServer, send } from "../../../support/h1-client.js";
import { waitFor } from "../../../support/net.js";

const options = { connections: 2, connectTimeoutMs: 2000, idleTimeoutMs: 10_000 };

interface Seen {
  bytes: number;
  sha: string;
  contentLength: string | undefined;
  transferEncoding: string | undefined;
}

/** Answers each request with what it received: byte count, hash and framing headers. */
async function receivingServer(onRequest?: (req: IncomingMessage, res: ServerResponse) => boolean) {
  const server: Server = createServer((req, res) => {
    if (onRequest?.(req, res)) return;
    const hash = createHash("sha256");
    let bytes = 0;
    req.on("data", (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    req.on("end", () => {
      const seen: Seen = {
        bytes,
        sha: hash.digest("hex"),
        contentLength: req.headers["content-length"],
        transferEncoding: req.headers["transfer-encoding"],
      };
      res.end(JSON.stringify(seen));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A body of `total` pseudo-random bytes in 16 KiB chunks, and its hash. */
function body(total: number, produced = { bytes: 0 }): { stream: Readable; sha: string } {
  const pattern = Buffer.from(Array.from({ length: 251 }, (_, i) => (i * 7919) % 251));
  const data = Buffer.alloc(total, pattern);
  let at = 0;
  const stream = new Readable({
    read() {
      if (at >= total) {
        this.push(null);
        return;
      }
      const piece = data.subarray(at, Math.min(total, at + 16 * 1024));
      at += piece.length;
      produced.bytes = at;
      this.push(piece);
    },
  });
  return { stream, sha: createHash("sha256").update(data).digest("hex") };
}

test("a body with content-length is streamed as exactly that many bytes", async (t) => {
  const server = await receivingServer();
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const total = 3 * 1024 * 1024 + 17;
  const { stream, sha } = body(total);
  const r = await send(pool, { method: "PUT", headers: { "content-length": String(total) }, body: stream });
  const seen = JSON.parse(r.body.toString()) as Seen;
  t.deepEqual(seen, { bytes: total, sha, contentLength: String(total) });
  // The connection is reusable after an upload.
  const again = await send(pool, { method: "POST", body: body(10).stream });
  t.is((JSON.parse(again.body.toString()) as Seen).bytes, 10);
  t.is(pool.stats.connected, 1);
});

test("a body without content-length is sent chunked", async (t) => {
  const server = await receivingServer();
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const total = 1024 * 1024 + 3;
  const { stream, sha } = body(total);
  const r = await send(pool, { method: "POST", body: stream });
  t.deepEqual(JSON.parse(r.body.toString()), { bytes: total, sha, transferEncoding: "chunked" });
  const empty = await send(pool, { method: "POST", body: Readable.from([]) });
  t.is((JSON.parse(empty.body.toString()) as Seen).bytes, 0);
});

test("a small body already buffered leaves with the head in one write", async (t) => {
  const firstReads: string[] = [];
  const server = await scriptedServer((socket) => {
    socket.once("data", (d: Buffer) => {
      firstReads.push(d.toString("latin1"));
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    });
  });
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const stream = new Readable({ read() {} });
  stream.push(Buffer.from("hello-body"));
  stream.push(null);
  await send(pool, { method: "POST", headers: { host: "h", "content-length": "10" }, body: stream });
  t.deepEqual(firstReads, ["POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 10\r\n\r\nhello-body"]);
});

test("a body shorter or longer than its content-length fails the request", async (t) => {
  const server = await receivingServer();
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const short = await send(pool, { method: "PUT", headers: { "content-length": "100" }, body: body(40).stream });
  t.is(short.error?.code, "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH");
  const long = await send(pool, { method: "PUT", headers: { "content-length": "10" }, body: body(40).stream });
  t.is(long.error?.code, "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH");
  t.is(pool.stats.connected, 0);
});

test("a body stream that errors mid-upload fails the request with that same error", async (t) => {
  const failure = new Error("client body broke");
  const stream = new Readable({ read() {} });
  stream.push(Buffer.from("partial"));
  const server = await receivingServer((req) => {
    req.once("data", () => stream.destroy(failure));
    return true;
  });
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const r = await send(pool, { method: "POST", body: stream });
  t.is(r.error, failure);
  t.deepEqual(r.events, ["start", "error"]);
});

test("upload backpressure: a server that stops reading stops the body stream", async (t) => {
  let serverRead = 0;
  let resumeServer: () => void = () => {};
  let paused = false;
  const server = await receivingServer((req, res) => {
    req.on("data", (c: Buffer) => {
      serverRead += c.length;
      if (serverRead > 1024 * 1024 && !paused) {
        paused = true;
        req.pause();
        resumeServer = () => req.resume();
      }
    });
    req.on("end", () => res.end(String(serverRead)));
    return true;
  });
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const total = 128 * 1024 * 1024;
  const produced = { bytes: 0 };
  const result = send(pool, {
    method: "POST",
    headers: { "content-length": String(total) },
    body: body(total, produced).stream,
  });
  await waitFor(() => serverRead > 1024 * 1024);
  await new Promise((r) => setTimeout(r, 300));
  const ahead = produced.bytes - serverRead;
  t.true(ahead < 32 * 1024 * 1024, `the body ran ${ahead} bytes ahead of the server`);
  resumeServer();
  t.is((await result).body.toString(), String(total));
});

test("an early answer completes the request; the rest of the body is dropped with the connection", async (t) => {
  const server = await receivingServer((_req, res) => {
    res.writeHead(413, { "content-length": "8" });
    res.end("too big\n");
    return true;
  });
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const stream = new Readable({ read() {} });
  stream.push(Buffer.alloc(1024, 1));
  const r = await send(pool, { method: "POST", body: stream });
  t.is(r.status, 413);
  t.is(r.body.toString(), "too big\n");
  t.deepEqual(r.events, ["start", "head", "data", "end"]);
  // The body's owner destroys it later, possibly with an error nobody listens for any more.
  stream.destroy(new Error("late failure"));
  await new Promise((r) => setTimeout(r, 20));
  t.is(pool.stats.connected, 0);
});

test("a body that fails while its request is queued fails the request there", async (t) => {
  let finishFirst: (() => void) | undefined;
  const server = await receivingServer((_req, res) => {
    finishFirst = () => res.end("first");
    return true;
  });
  const pool = new H1Pool("127.0.0.1", server.port, { ...options, connections: 1 });
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const first = send(pool);
  const stream = new Readable({ read() {} });
  const queued = send(pool, { method: "POST", body: stream });
  await waitFor(() => finishFirst !== undefined);
  t.is(pool.stats.pending, 1);
  const failure = new Error("client gone while queued");
  stream.destroy(failure);
  const r = await queued;
  t.is(r.error, failure);
  t.deepEqual(r.events, ["error"]);
  t.is(pool.stats.pending, 0);
  finishFirst!();
  t.is((await first).body.toString(), "first");
});
