// The data plane driven for real: uWebSockets.js listener, undici upstream, node:http backends.
import { connect } from "node:net";
import { Readable } from "node:stream";
import test from "ava";
import { Agent, request } from "undici";
import { DataPlane } from "../../gateway/data-plane.js";
import { startBackend, type TestBackend } from "../support/backend.js";
import { freePort } from "../support/net.js";
import { cluster, simplePort, snapshot } from "../support/snapshot.js";

const client = new Agent({ keepAliveTimeout: 10_000 });
test.after.always(() => client.close());

async function get(port: number, path = "/", headers: Record<string, string> = {}, method = "GET") {
  const res = await request(`http://127.0.0.1:${port}${path}`, {
    method: method as "GET",
    headers,
    dispatcher: client,
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

async function withPlane(
  build: (port: number, backends: TestBackend[]) => Parameters<typeof snapshot>[0],
  backendCount: number,
  run: (ctx: { port: number; plane: DataPlane; backends: TestBackend[] }) => Promise<void>,
): Promise<void> {
  const backends = await Promise.all(Array.from({ length: backendCount }, (_, i) => startBackend(`b${i}`)));
  const port = await freePort();
  const plane = new DataPlane();
  try {
    const result = await plane.apply(snapshot(build(port, backends)));
    if (result.portErrors.length > 0) throw new Error(JSON.stringify(result.portErrors));
    await run({ port, plane, backends });
  } finally {
    await plane.drain(1000);
    await Promise.all(backends.map((b) => b.close()));
  }
}

test("proxies a GET and adds forwarding, request id and trace headers", async (t) => {
  await withPlane(
    (port, [b]) => ({
      version: 1,
      ports: [simplePort(port, [{ backends: [{ cluster: "c" }] }])],
      clusters: [cluster("c", [b!.port])],
    }),
    1,
    async ({ port, backends: [b] }) => {
      // With no trusted hops in front, the client's own X-Forwarded-* are its claims: replaced.
      const res = await get(port, "/hello?x=1", {
        host: "shop.example.com:8080",
        "x-forwarded-for": "10.1.1.1",
        "x-forwarded-host": "admin.internal",
        "x-forwarded-proto": "https",
        "x-forwarded-prefix": "/admin",
      });
      t.is(res.status, 200);
      const seen = b!.received[0]!;
      t.is(seen.url, "/hello?x=1");
      t.is(seen.headers["host"], "shop.example.com:8080");
      t.is(seen.headers["x-forwarded-for"], "127.0.0.1");
      t.is(seen.headers["x-forwarded-proto"], "http");
      t.is(seen.headers["x-forwarded-host"], "shop.example.com:8080");
      t.is(seen.headers["x-forwarded-prefix"], undefined);
      t.regex(String(seen.headers["x-request-id"]), /^[0-9a-f-]{36}$/);
      t.regex(String(seen.headers["traceparent"]), /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      t.is(res.headers["x-backend"], "b0");
    },
  );
});

test("keeps a valid traceparent and request id, strips hop-by-hop headers", async (t) => {
  await withPlane(
    (port, [b]) => ({
      version: 1,
      ports: [simplePort(port, [{ backends: [{ cluster: "c" }] }])],
      clusters: [cluster("c", [b!.port])],
    }),
    1,
    async ({ port, backends: [b] }) => {
      const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
      const res = await get(port, "/", { traceparent: tp, "x-request-id": "abc-123" });
      t.is(res.status, 200);
      // undici (the test client) will not send Connection-listed headers itself: use a raw socket.
      const sock = connect(port, "127.0.0.1");
      sock.write(
        "GET /raw HTTP/1.1\r\nhost: x\r\nconnection: x-secret-hop\r\nx-secret-hop: 1\r\nte: trailers\r\n\r\n",
      );
      const reply = await new Promise<string>((resolve) => sock.once("data", (d) => resolve(d.toString())));
      sock.destroy();
      t.regex(reply, /^HTTP\/1\.1 200 /);
      const seen = b!.received[0]!;
      t.is(seen.headers["traceparent"], tp);
      t.is(seen.headers["x-request-id"], "abc-123");
      const raw = b!.received[1]!;
      t.is(raw.url, "/raw");
      t.is(raw.headers["x-secret-hop"], undefined);
      t.is(raw.headers["te"], undefined);
      t.is(seen.headers["te"], undefined);
    },
  );
});

test("answers 404 for no route, 500 for an unresolved backend, 503 for an empty cluster", async (t) => {
  await withPlane(
    (port) => ({
      version: 1,
      ports: [
        simplePort(port, [
          { prefix: "/broken", backends: [{ cluster: null }] },
          { prefix: "/empty", backends: [{ cluster: "empty" }] },
          { prefix: "/only", hostnames: ["only.example.com"], backends: [{ cluster: "empty" }] },
        ]),
      ],
      clusters: [cluster("empty", [])],
    }),
    0,
    async ({ port }) => {
      t.is((await get(port, "/nothing-here")).status, 404);
      t.is((await get(port, "/broken")).status, 500);
      t.is((await get(port, "/empty")).status, 503);
    },
  );
});

test("a dead backend gets 503, a slow one 504 within the route timeout", async (t) => {
  const dead = await freePort();
  await withPlane(
    (port, [slow]) => ({
      version: 1,
      ports: [
        simplePort(port, [
          { prefix: "/dead", backends: [{ cluster: "dead" }] },
          { prefix: "/slow", backends: [{ cluster: "slow" }], requestTimeoutMs: 300 },
        ]),
      ],
      clusters: [cluster("dead", [dead]), cluster("slow", [slow!.port])],
    }),
    1,
    async ({ port, backends: [slow] }) => {
      slow!.behave((_req, res) => setTimeout(() => res.end("late"), 2000));
      t.is((await get(port, "/dead")).status, 503);
      const started = Date.now();
      t.is((await get(port, "/slow")).status, 504);
      t.true(Date.now() - started < 1500);
    },
  );
});

test("streams request bodies with content-length and chunked encoding, HEAD has no body", async (t) => {
  await withPlane(
    (port, [b]) => ({
      version: 1,
      ports: [simplePort(port, [{ backends: [{ cluster: "c" }] }])],
      clusters: [cluster("c", [b!.port])],
    }),
    1,
    async ({ port, backends: [b] }) => {
      const body = Buffer.alloc(300_000, 7);
      const res = await request(`http://127.0.0.1:${port}/upload`, {
        method: "POST",
        body,
        dispatcher: client,
      });
      t.is(res.statusCode, 200);
      t.is(((await res.body.json()) as { bodyBytes: number }).bodyBytes, body.length);
      async function* chunks() {
        for (let i = 0; i < 10; i++) yield Buffer.alloc(1000, i);
      }
      const chunked = await request(`http://127.0.0.1:${port}/chunked`, {
        method: "PUT",
        body: Readable.from(chunks()),
        dispatcher: client,
      });
      t.is(chunked.statusCode, 200);
      t.is(((await chunked.body.json()) as { bodyBytes: number }).bodyBytes, 10_000);
      t.is(b!.received[1]!.bodyBytes, 10_000);
      const head = await request(`http://127.0.0.1:${port}/`, { method: "HEAD", dispatcher: client });
      t.is(head.statusCode, 200);
      t.is((await head.body.text()).length, 0);
    },
  );
});

test("retries an idempotent request after a 503 and never a POST", async (t) => {
  await withPlane(
    (port, [b]) => ({
      version: 1,
      ports: [simplePort(port, [{ backends: [{ cluster: "c" }] }])],
      clusters: [cluster("c", [b!.port])],
    }),
    1,
    async ({ port, backends: [b] }) => {
      let calls = 0;
      b!.behave((_req, res) => {
        calls++;
        res.writeHead(calls === 1 ? 503 : 200).end(calls === 1 ? "busy" : "fine");
      });
      const ok = await get(port, "/");
      t.is(ok.status, 200);
      t.is(ok.text, "fine");
      t.is(calls, 2);
      calls = 0;
      const post = await request(`http://127.0.0.1:${port}/`, {
        method: "POST",
        body: "x",
        dispatcher: client,
      });
      t.is(post.statusCode, 503);
      await post.body.text();
      t.is(calls, 1);
    },
  );
});

test("weighted backends split traffic by weight, weight 0 gets none", async (t) => {
  await withPlane(
    (port, [a, b, c]) => ({
      version: 1,
      ports: [
        simplePort(port, [
          {
            backends: [
              { cluster: "a", weight: 3 },
              { cluster: "b", weight: 1 },
              { cluster: "c", weight: 0 },
            ],
          },
        ]),
      ],
      clusters: [cluster("a", [a!.port]), cluster("b", [b!.port]), cluster("c", [c!.port])],
    }),
    3,
    async ({ port, backends: [a, b, c] }) => {
      for (let i = 0; i < 400; i++) t.is((await get(port, "/")).status, 200);
      t.is(c!.received.length, 0);
      t.true(a!.received.length > 240 && a!.received.length < 360, `a got ${a!.received.length}`);
      t.is(a!.received.length + b!.received.length, 400);
    },
  );
});

test("ejects a failing endpoint and keeps serving from the healthy one", async (t) => {
  const dead = await freePort();
  await withPlane(
    (port, [b]) => ({
      version: 1,
      ports: [simplePort(port, [{ backends: [{ cluster: "c" }] }])],
      clusters: [
        cluster("c", [b!.port, dead], {
          retry: { attempts: 0 },
          outlier: { consecutiveFailures: 2, maxEjectionPercent: 50 },
        }),
      ],
    }),
    1,
    async ({ port, backends: [b] }) => {
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) statuses.push((await get(port, "/")).status);
      const failures = statuses.filter((s) => s !== 200).length;
      t.true(failures <= 2, `failures: ${failures}`);
      t.true(statuses.slice(10).every((s) => s === 200));
      t.is(b!.received.length, 40 - failures);
    },
  );
});

test("cluster request limit answers 503 with a header naming the limit", async (t) => {
  await withPlane(
    (port, [b]) => ({
      version: 1,
      ports: [simplePort(port, [{ backends: [{ cluster: "c" }] }])],
      clusters: [cluster("c", [b!.port], { circuitBreaker: { maxRequests: 1 } })],
    }),
    1,
    async ({ port, backends: [b] }) => {
      b!.behave((_req, res) => setTimeout(() => res.end("slow"), 300));
      const first = get(port, "/");
      await new Promise((r) => setTimeout(r, 50));
      const second = await get(port, "/");
      t.is(second.status, 503);
      t.is(second.headers["x-meshgate-overloaded"], "max-requests");
      t.is((await first).status, 200);
    },
  );
});

test("client limits: 414 for long URLs, 431 for large headers, 413 for large bodies", async (t) => {
  await withPlane(
    (port, [b]) => ({
      version: 1,
      ports: [
        simplePort(port, [{ backends: [{ cluster: "c" }] }], {
          maxUrlBytes: 512,
          maxHeaderBytes: 2048,
          maxBodyBytes: 1000,
        }),
      ],
      clusters: [cluster("c", [b!.port])],
    }),
    1,
    async ({ port, backends: [b] }) => {
      t.is((await get(port, "/" + "a".repeat(600))).status, 414);
      t.is((await get(port, "/", { "x-big": "v".repeat(3000) })).status, 431);
      const big = await request(`http://127.0.0.1:${port}/`, {
        method: "POST",
        body: Buffer.alloc(5000),
        dispatcher: client,
      });
      t.is(big.statusCode, 413);
      await big.body.text();
      t.is(b!.received.length, 0);
    },
  );
});

test("a new Snapshot applies without dropping a keep-alive connection or an in-flight request", async (t) => {
  await withPlane(
    (port, [a]) => ({
      version: 1,
      ports: [simplePort(port, [{ backends: [{ cluster: "a" }] }])],
      clusters: [cluster("a", [a!.port])],
    }),
    2,
    async ({ port, plane, backends: [a, b] }) => {
      a!.behave((_req, res) => setTimeout(() => res.end("from a"), 300));
      const sock = connect(port, "127.0.0.1");
      await new Promise((r) => sock.once("connect", r));
      let data = "";
      sock.on("data", (d) => {
        data += d.toString();
      });
      sock.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
      await new Promise((r) => setTimeout(r, 50));
      await plane.apply(
        snapshot({
          version: 2,
          ports: [simplePort(port, [{ backends: [{ cluster: "b" }] }])],
          clusters: [cluster("b", [b!.port])],
        }),
      );
      // Waits for the answer rather than a fixed time: a loaded machine must not fail this.
      const until = async (pattern: RegExp) => {
        for (let waited = 0; waited < 5000 && !pattern.test(data); waited += 20)
          await new Promise((r) => setTimeout(r, 20));
      };
      await until(/from a$/);
      t.regex(data, /from a$/);
      sock.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
      await until(/"backend":"b1"/);
      t.regex(data, /"backend":"b1"/);
      sock.destroy();
    },
  );
});

test("proxies a WebSocket upgrade with the upstream's subprotocol and relays messages both ways", async (t) => {
  const { uws } = await import("../../gateway/uws.js");
  const { WebSocket } = await import("undici");
  const wsPort = await freePort();
  let listen: unknown;
  const upstream = uws.App().ws("/*", {
    upgrade: (res, req, context) => {
      const offered = req.getHeader("sec-websocket-protocol").split(",")[0]?.trim() ?? "";
      res.upgrade(
        {},
        req.getHeader("sec-websocket-key"),
        offered,
        req.getHeader("sec-websocket-extensions"),
        context,
      );
    },
    message: (ws, message, isBinary) => {
      ws.send(`echo:${Buffer.from(message).toString()}`, isBinary);
    },
  });
  await new Promise<void>((resolve) =>
    upstream.listen("127.0.0.1", wsPort, (s) => {
      listen = s;
      resolve();
    }),
  );
  try {
    await withPlane(
      (port) => ({
        version: 1,
        ports: [simplePort(port, [{ backends: [{ cluster: "ws" }] }])],
        clusters: [cluster("ws", [wsPort])],
      }),
      0,
      async ({ port }) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, ["chat.v1", "chat.v0"]);
        const reply = await new Promise<string>((resolve, reject) => {
          ws.onopen = () => ws.send("hi");
          ws.onmessage = (ev) => resolve(String(ev.data));
          ws.onerror = () => reject(new Error("websocket failed"));
        });
        t.is(reply, "echo:hi");
        t.is(ws.protocol, "chat.v1");
        ws.close();
      },
    );
  } finally {
    uws.us_listen_socket_close(listen as Parameters<typeof uws.us_listen_socket_close>[0]);
  }
});
