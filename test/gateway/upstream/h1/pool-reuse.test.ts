// Keep-alive behaviour: reuse, the connection cap and its queue, servers that close, idle sockets.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import test from "ava";
import { H1Pool } from "../../../../gateway/upstream/h1/pool.js";
import { waitFor } from "../../../support/net.js";
import { onRequestHeads, Recorder, scriptedServer, send } from "../../../support/h1-client.js";

const options = { connections: 8, connectTimeoutMs: 2000, idleTimeoutMs: 10_000 };

async function httpServer(handle: Parameters<typeof createServer>[1]) {
  const server: Server = createServer(handle);
  let connections = 0;
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return connections;
    },
    closeIdle: () => server.closeIdleConnections(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test("one connection carries 100 sequential requests", async (t) => {
  const server = await httpServer((req, res) => res.end(`you asked for ${req.url}`));
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  for (let i = 0; i < 100; i++) {
    const r = await send(pool, { path: `/n/${i}` });
    t.is(r.body.toString(), `you asked for /n/${i}`);
  }
  t.is(server.connections, 1);
  t.deepEqual(pool.stats, { connected: 1, free: 1, pending: 0, running: 0 });
});

test("with one connection, five concurrent requests queue and finish in order", async (t) => {
  let statsAtFirst: unknown;
  const server = await httpServer((req, res) => {
    statsAtFirst ??= pool.stats;
    setTimeout(() => res.end(req.url), 20);
  });
  const pool = new H1Pool("127.0.0.1", server.port, { ...options, connections: 1 });
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const finished: string[] = [];
  const all = Array.from({ length: 5 }, (_, i) =>
    send(pool, { path: `/${i}` }).then((r) => {
      finished.push(r.body.toString());
      return r;
    }),
  );
  t.is(pool.stats.pending, 5);
  const results = await Promise.all(all);
  t.deepEqual(statsAtFirst, { connected: 1, free: 0, pending: 4, running: 1 });
  for (const r of results) t.is(r.status, 200);
  t.deepEqual(finished, ["/0", "/1", "/2", "/3", "/4"]);
  t.is(server.connections, 1);
});

test("concurrent requests open up to the cap and no more", async (t) => {
  const server = await httpServer((_req, res) => setTimeout(() => res.end("ok"), 30));
  const pool = new H1Pool("127.0.0.1", server.port, { ...options, connections: 3 });
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const results = await Promise.all(Array.from({ length: 12 }, () => send(pool)));
  t.true(results.every((r) => r.status === 200));
  t.is(server.connections, 3);
});

test("a response with Connection: close is honoured: the next request uses a new connection", async (t) => {
  const server = await httpServer((_req, res) => {
    res.setHeader("connection", "close");
    res.end("bye");
  });
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  t.is((await send(pool)).body.toString(), "bye");
  t.is(pool.stats.connected, 0);
  t.is((await send(pool)).body.toString(), "bye");
  t.is(server.connections, 2);
});

test("an HTTP/1.0 response is not reused", async (t) => {
  const server = await scriptedServer((socket) => {
    onRequestHeads(socket, () => socket.write("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold"));
  });
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  t.is((await send(pool)).body.toString(), "old");
  t.is((await send(pool)).body.toString(), "old");
  t.is(server.connections, 2);
});

test("a stale keep-alive connection closed before any response byte is retried once on a new one", async (t) => {
  // Each connection answers its first request, then closes without answering the second: the
  // race a client loses when the server's idle timeout fires just as a request goes out.
  const server = await scriptedServer((socket) => {
    onRequestHeads(socket, (_head, index) => {
      if (index === 0) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh");
      else socket.destroy();
    });
  });
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  t.is((await send(pool)).body.toString(), "fresh");
  const recorder = new Recorder();
  const retried = await send(pool, {}, recorder);
  t.is(retried.error, undefined);
  t.is(retried.body.toString(), "fresh");
  t.deepEqual(retried.events, ["start", "head", "data", "end"]);
  t.is(server.connections, 2);
  // The retry's connection is now the reused one, and goes stale the same way.
  const third = await send(pool);
  t.is(third.body.toString(), "fresh");
  t.is(server.connections, 3);
});

test("a request that fails on a new connection, or had a body, is not retried", async (t) => {
  const server = await scriptedServer((socket) => {
    onRequestHeads(socket, (head, index) => {
      if (index === 0 && !head.startsWith("GET /die")) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      else socket.destroy();
    });
  });
  const pool = new H1Pool("127.0.0.1", server.port, { ...options, connections: 1 });
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const fresh = await send(pool, { path: "/die" });
  t.is(fresh.error?.code, "UND_ERR_SOCKET");
  t.is(server.connections, 1);
  t.is((await send(pool)).body.toString(), "ok");
  const { Readable } = await import("node:stream");
  const withBody = await send(pool, { method: "POST", body: Readable.from([Buffer.from("data")]) });
  t.is(withBody.error?.code, "UND_ERR_SOCKET");
  t.is(server.connections, 2);
});

test("an idle connection the server closes leaves the free list at once", async (t) => {
  const server = await httpServer((_req, res) => res.end("ok"));
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  await send(pool);
  t.is(pool.stats.free, 1);
  server.closeIdle();
  await waitFor(() => pool.stats.connected === 0);
  t.is(pool.stats.free, 0);
  t.is((await send(pool)).body.toString(), "ok");
  t.is(server.connections, 2);
});

test("idle connections close after idleTimeoutMs", async (t) => {
  const server = await httpServer((_req, res) => res.end("ok"));
  const pool = new H1Pool("127.0.0.1", server.port, { ...options, idleTimeoutMs: 150 });
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const before = Date.now();
  await Promise.all([send(pool), send(pool)]);
  t.is(pool.stats.connected, 2);
  await waitFor(() => pool.stats.connected === 0, 2000, 10);
  t.true(Date.now() - before >= 145);
});

test("a server's Keep-Alive timeout shortens the idle time", async (t) => {
  const server = await scriptedServer((socket) => {
    onRequestHeads(socket, () => socket.write("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 0\r\n\r\n"));
  });
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  await send(pool);
  t.is(pool.stats.connected, 1);
  // timeout=1 s: the client closes at half of it, long before its own 10 s.
  await waitFor(() => pool.stats.connected === 0, 1500, 10);
  t.pass();
});

test("close() lets queued requests finish, then closes; dispatch afterwards fails", async (t) => {
  const server = await httpServer((req, res) => setTimeout(() => res.end(req.url), 20));
  const pool = new H1Pool("127.0.0.1", server.port, { ...options, connections: 1 });
  t.teardown(() => server.close());
  const all = [send(pool, { path: "/a" }), send(pool, { path: "/b" })];
  await pool.close();
  const [a, b] = await Promise.all(all);
  t.is(a!.body.toString(), "/a");
  t.is(b!.body.toString(), "/b");
  t.is(pool.stats.connected, 0);
  t.is((await send(pool)).error?.code, "UND_ERR_CLOSED");
});

test("destroy() fails running and queued requests at once", async (t) => {
  const server = await httpServer(() => {});
  const pool = new H1Pool("127.0.0.1", server.port, { ...options, connections: 1 });
  t.teardown(() => server.close());
  const running = send(pool);
  const queued = send(pool);
  await waitFor(() => pool.stats.running === 1);
  await pool.destroy();
  t.is((await running).error?.code, "UND_ERR_DESTROYED");
  t.is((await queued).error?.code, "UND_ERR_DESTROYED");
  t.deepEqual((await queued).events, ["error"]);
});
