// Response framing through real sockets, with servers that send exactly the bytes a test wants,
// most of them one byte per TCP segment.
import test from "ava";
import { H1Pool } from "../../../../gateway/upstream/h1/pool.js";
import { dribble, onRequestHeads, scriptedServer, send } from "../../../support/h1-client.js";

const options = { connections: 4, connectTimeoutMs: 2000, idleTimeoutMs: 10_000 };

/** A server answering every request on a connection with `answer`, one byte at a time. */
async function dribbling(answer: (head: string) => string, close = false) {
  return scriptedServer((socket) => {
    onRequestHeads(socket, (head) => {
      void dribble(socket, answer(head)).then(() => {
        if (close) socket.end();
      });
    });
  });
}

test("a content-length response split into single bytes, then the connection is reused", async (t) => {
  const server = await dribbling(() => "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-Reply: yes\r\n\r\nhello world");
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  for (let i = 0; i < 2; i++) {
    const r = await send(pool);
    t.is(r.error, undefined);
    t.is(r.status, 200);
    t.is(r.headers["x-reply"], "yes");
    t.is(r.body.toString(), "hello world");
    t.deepEqual(r.events, ["start", "head", "data", "end"]);
  }
  t.is(server.connections, 1);
});

test("a chunked response with trailers split into single bytes", async (t) => {
  const server = await dribbling(
    () =>
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nwiki\r\n6\r\npedia \r\n0\r\nX-Sum: 42\r\n\r\n",
  );
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const r = await send(pool);
  t.is(r.body.toString(), "wikipedia ");
  t.deepEqual(r.trailers, { "x-sum": "42" });
  const again = await send(pool);
  t.is(again.body.toString(), "wikipedia ");
  t.is(server.connections, 1);
});

test("a response without length is read until the server closes", async (t) => {
  const server = await dribbling(() => "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", true);
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const r = await send(pool);
  t.is(r.error, undefined);
  t.is(r.body.toString(), "until the end");
  t.is((await send(pool)).body.toString(), "until the end");
  t.is(server.connections, 2);
});

test("HEAD gets no body despite content-length; 204 and 304 neither; interim 100 is skipped", async (t) => {
  const server = await dribbling((head) => {
    if (head.startsWith("HEAD")) return "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    if (head.startsWith("GET /204")) return "HTTP/1.1 204 No Content\r\n\r\n";
    if (head.startsWith("GET /304")) return "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n";
    return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  });
  const pool = new H1Pool("127.0.0.1", server.port, { ...options, connections: 1 });
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const head = await send(pool, { method: "HEAD" });
  t.is(head.status, 200);
  t.is(head.headers["content-length"], "1000");
  t.deepEqual(head.events, ["start", "head", "end"]);
  t.deepEqual((await send(pool, { path: "/204" })).events, ["start", "head", "end"]);
  t.is((await send(pool, { path: "/304" })).status, 304);
  const interim = await send(pool, { path: "/continue" });
  t.is(interim.status, 200);
  t.is(interim.body.toString(), "ok");
  t.is(server.connections, 1);
});

test("a response with Content-Length and Transfer-Encoding is read chunked, then its connection closed", async (t) => {
  const server = await dribbling(
    () => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
  );
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  t.is((await send(pool)).body.toString(), "abc");
  t.is((await send(pool)).body.toString(), "abc");
  t.is(server.connections, 2);
});

test("a malformed response fails with HPE_INVALID, and so does an invalid content-length", async (t) => {
  const server = await scriptedServer((socket) => {
    onRequestHeads(socket, (head) => {
      socket.write(
        head.startsWith("GET /length")
          ? "HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n"
          : "HTTP/1.1 200 OK\r\nBroken header line\r\n\r\n",
      );
    });
  });
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const bad = await send(pool);
  t.is(bad.error?.code, "HPE_INVALID");
  t.deepEqual(bad.events, ["start", "error"]);
  t.is((await send(pool, { path: "/length" })).error?.code, "HPE_INVALID");
  t.is(pool.stats.connected, 0);
});

test("a response head over maxResponseHeaderBytes fails", async (t) => {
  const server = await scriptedServer((socket) => {
    onRequestHeads(socket, () => socket.write(`HTTP/1.1 200 OK\r\nX-Big: ${"x".repeat(5000)}\r\n\r\n`));
  });
  const pool = new H1Pool("127.0.0.1", server.port, { ...options, maxResponseHeaderBytes: 4096 });
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  t.is((await send(pool)).error?.code, "UND_ERR_HEADERS_OVERFLOW");
});

test("the connection closing in the middle of a body fails with UND_ERR_SOCKET", async (t) => {
  const server = await scriptedServer((socket) => {
    onRequestHeads(socket, () => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"));
  });
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const r = await send(pool);
  t.is(r.error?.code, "UND_ERR_SOCKET");
  t.deepEqual(r.events, ["start", "head", "data", "error"]);
});

test("the request head goes out as written: caller's Host kept, one given when missing", async (t) => {
  const heads: string[] = [];
  const server = await scriptedServer((socket) => {
    onRequestHeads(socket, (head) => {
      heads.push(head);
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    });
  });
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  await send(pool, { path: "/x?y=1", headers: { host: "api.example.com", "x-request-id": "r1" } });
  await send(pool, { method: "DELETE", path: "/z", headers: {} });
  t.deepEqual(heads, [
    "GET /x?y=1 HTTP/1.1\r\nhost: api.example.com\r\nx-request-id: r1",
    `DELETE /z HTTP/1.1\r\nhost: 127.0.0.1:${server.port}`,
  ]);
});

test("a CR/LF in a header is refused through onResponseError and nothing is sent", async (t) => {
  const server = await scriptedServer(() => {});
  const pool = new H1Pool("127.0.0.1", server.port, options);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const r = await send(pool, { headers: { "x-a": "1\r\nx-evil: 1" } });
  t.is(r.error?.code, "UND_ERR_INVALID_ARG");
  t.deepEqual(r.events, ["error"]);
  t.is(server.connections, 0);
});
