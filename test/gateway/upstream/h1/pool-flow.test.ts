// Flow control through the controller: abort while queued, at start or while streaming, and
// pause/resume as backpressure.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import test from "ava";
import type { Dispatcher } from "undici";
import { H1Pool } from "../../../../gateway/upstream/h1/pool.js";
import { Recorder, send } from "../../../support/h1-client.js";
import { waitFor } from "../../../support/net.js";

const options = { connections: 1, connectTimeoutMs: 2000, idleTimeoutMs: 10_000 };

async function httpServer(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const urls: string[] = [];
  let connections = 0;
  const server: Server = createServer((req, res) => {
    urls.push(req.url ?? "");
    handle(req, res);
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    urls,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `total` bytes of body in 64 KiB chunks, made only as fast as the reader takes them. */
function generated(total: number, produced: { bytes: number }): Readable {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  return new Readable({
    read() {
      if (produced.bytes >= total) {
        this.push(null);
        return;
      }
      const piece = chunk.subarray(0, Math.min(chunk.length, total - produced.bytes));
      produced.bytes += piece.length;
      this.push(piece);
    },
  });
}

class QueuedAborter extends Recorder {
  onRequestQueued(controller: Dispatcher.DispatchController): void {
    this.events.push("queued");
    this.controller = controller;
  }
}

test("abort while queued: the request leaves the queue at once, never starts, errors with the reason", async (t) => {
  let finishSlow: () => void = () => {};
  const server = await httpServer((req, res) => {
    if (req.url === "/slow") finishSlow = () => res.end("slow");
    else res.end(req.url);
  });
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const slow = send(pool, { path: "/slow" });
  const waiting = new QueuedAborter();
  pool.dispatch({ path: "/never", method: "GET", headers: {}, body: null }, waiting);
  await waitFor(() => server.urls.length === 1);
  t.is(pool.stats.pending, 1);
  const reason = new Error("client went away");
  waiting.controller!.abort(reason);
  t.is(pool.stats.pending, 0);
  const outcome = await waiting.outcome;
  t.is(outcome.error, reason);
  t.deepEqual(outcome.events, ["queued", "error"]);
  t.true(waiting.controller!.aborted);
  t.is(waiting.controller!.reason, reason);
  waiting.controller!.abort(new Error("again"));
  finishSlow();
  t.is((await slow).body.toString(), "slow");
  t.is((await send(pool, { path: "/after" })).body.toString(), "/after");
  t.deepEqual(server.urls, ["/slow", "/after"]);
  t.deepEqual(waiting.events, ["queued", "error"]);
});

test("abort from onRequestStart sends nothing and leaves the connection to the next request", async (t) => {
  const server = await httpServer((req, res) => res.end(req.url));
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  await send(pool, { path: "/warm" });
  const reason = new Error("gave up while queued");
  const quitter = new (class extends Recorder {
    override onRequestStart(controller: Dispatcher.DispatchController): void {
      super.onRequestStart(controller);
      controller.abort(reason);
    }
  })();
  const quit = await send(pool, { path: "/quit" }, quitter);
  t.is(quit.error, reason);
  t.deepEqual(quit.events, ["start", "error"]);
  t.is((await send(pool, { path: "/next" })).body.toString(), "/next");
  t.deepEqual(server.urls, ["/warm", "/next"]);
  t.is(server.connections, 1);
});

test("abort while streaming: one error with the reason, no data after it, upstream connection closed", async (t) => {
  let upstreamClosed = false;
  const server = await httpServer((_req, res) => {
    res.on("close", () => {
      upstreamClosed = true;
    });
    generated(Number.MAX_SAFE_INTEGER, { bytes: 0 }).pipe(res);
  });
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const reason = new Error("stop");
  let afterAbort = 0;
  let received = 0;
  const streamer = new (class extends Recorder {
    override onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
      if (controller.aborted) afterAbort++;
      received += chunk.length;
      if (received > 1024 * 1024 && !controller.aborted) controller.abort(reason);
    }
  })();
  const outcome = await send(pool, {}, streamer);
  t.is(outcome.error, reason);
  t.deepEqual(outcome.events, ["start", "head", "error"]);
  t.is(afterAbort, 0);
  await waitFor(() => upstreamClosed);
  t.is(pool.stats.connected, 0);
});

test("abort after the end changes nothing", async (t) => {
  const server = await httpServer((_req, res) => res.end("done"));
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const recorder = new Recorder();
  await send(pool, {}, recorder);
  recorder.controller!.abort(new Error("late"));
  t.false(recorder.controller!.aborted);
  t.deepEqual(recorder.events, ["start", "head", "data", "end"]);
  t.is(pool.stats.free, 1);
});

test("pause stops reading: 100 MB through a consumer that pauses keeps memory bounded", async (t) => {
  const total = 100 * 1024 * 1024;
  const produced = { bytes: 0 };
  const server = await httpServer((_req, res) => {
    res.setHeader("content-length", total);
    generated(total, produced).pipe(res);
  });
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  let received = 0;
  let nextPause = 10 * 1024 * 1024;
  let whilePaused = 0;
  let aheadPeak = 0;
  const consumer = new (class extends Recorder {
    override onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
      if (controller.paused) whilePaused += chunk.length;
      received += chunk.length;
      if (received < nextPause) return;
      nextPause += 10 * 1024 * 1024;
      controller.pause();
      // A slow downstream: 150 ms without reading. The server must stall meanwhile.
      setTimeout(() => {
        aheadPeak = Math.max(aheadPeak, produced.bytes - received);
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
        controller.resume();
      }, 150);
    }
  })();
  const outcome = await send(pool, {}, consumer);
  t.is(outcome.error, undefined);
  t.is(received, total);
  t.is(whilePaused, 0);
  // Socket buffers on both sides and the stream's high-water mark, not the body.
  t.true(aheadPeak < 32 * 1024 * 1024, `server ran ${aheadPeak} bytes ahead`);
  t.true(rssPeak - rssBefore < 60 * 1024 * 1024, `rss grew ${rssPeak - rssBefore} bytes`);
});

test("resume delivers what was read before the pause, in order", async (t) => {
  const server = await httpServer((_req, res) => {
    res.setHeader("content-length", 30);
    res.end("0123456789".repeat(3));
  });
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const pausing = new (class extends Recorder {
    override onResponseStart(
      controller: Dispatcher.DispatchController,
      status: number,
      headers: Record<string, string | string[] | undefined>,
      reason?: string,
    ): void {
      super.onResponseStart(controller, status, headers, reason);
      controller.pause();
      setTimeout(() => {
        this.events.push("resume");
        controller.resume();
      }, 50);
    }
  })();
  const outcome = await send(pool, {}, pausing);
  t.deepEqual(outcome.events, ["start", "head", "resume", "data", "end"]);
  t.is(outcome.body.toString(), "0123456789".repeat(3));
});
