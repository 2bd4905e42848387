// WebSocket upgrades go through the pipeline every request takes: path normalisation, the route,
// rate limits, redirects, header filters and forwarding headers; the backend gets the path and
// headers the route decided, written by the gateway's own handshake (no URL parser re-reads it).
import test from "ava";
import { DataPlane } from "../../gateway/data-plane.js";
import type { PortInput } from "../../gateway/snapshot.js";
import { type us_listen_socket, uws } from "../../gateway/uws.js";
import { freePort } from "../support/net.js";
import { rawExchange, responseHeader } from "../support/raw-http.js";
import { cluster, snapshot } from "../support/snapshot.js";

interface SeenUpgrade {
  url: string;
  headers: Record<string, string>;
}

/** A real WebSocket upstream (uWS) that records each handshake it accepts. */
async function upstreamServer(): Promise<{ port: number; seen: SeenUpgrade[]; close(): void }> {
  const seen: SeenUpgrade[] = [];
  const port = await freePort();
  let socket: us_listen_socket | false = false;
  const app = uws.App().ws("/*", {
    upgrade: (res, req, context) => {
      const headers: Record<string, string> = {};
      req.forEach((k, v) => (headers[k] = v));
      seen.push({ url: req.getUrl() + (req.getQuery() ? `?${req.getQuery()}` : ""), headers });
      res.upgrade({}, req.getHeader("sec-websocket-key"), "", "", context);
    },
    message: (ws, message, isBinary) => {
      ws.send(message, isBinary);
    },
  });
  await new Promise<void>((resolve) =>
    app.listen("127.0.0.1", port, (s) => {
      socket = s;
      resolve();
    }),
  );
  return { port, seen, close: () => socket !== false && uws.us_listen_socket_close(socket) };
}

function gatewayPort(port: number): PortInput {
  const entry = (prefix: string, action: number) => ({ hostnames: [], match: { path: { type: "PathPrefix" as const, value: prefix } }, action });
  return {
    port,
    address: "127.0.0.1",
    protocol: "HTTP",
    listeners: [
      {
        name: "default/gw/http",
        gateway: "default/gw",
        entries: [entry("/admin", 0), entry("/limited", 1), entry("/", 2)],
        actions: [
          {
            route: "default/deny-admin",
            rule: "0",
            filters: [{ type: "RequestRedirect", requestRedirect: { path: { type: "ReplaceFullPath", replaceFullPath: "/denied" }, statusCode: 302 } }],
          },
          {
            route: "default/limited",
            rule: "0",
            backends: [{ cluster: "ws", weight: 1 }],
            rateLimits: [{ policy: "default/p", bucket: "default/p", id: "0", limit: { requests: 1, unit: "Minute" }, type: "Local" }],
          },
          {
            route: "default/app",
            rule: "0",
            backends: [{ cluster: "ws", weight: 1 }],
            filters: [{ type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "x-added", value: "yes" }], remove: ["x-secret"] } }],
          },
        ],
      },
    ],
  };
}

function upgradeRequest(target: string, extra = ""): Buffer {
  return Buffer.from(
    `GET ${target} HTTP/1.1\r\nHost: chat.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`,
    "latin1",
  );
}

test("upgrades are normalised, routed, limited, redirected and filtered like any request", async (t) => {
  const upstream = await upstreamServer();
  const port = await freePort();
  const plane = new DataPlane();
  try {
    const result = await plane.apply(snapshot({ version: 1, ports: [gatewayPort(port)], clusters: [cluster("ws", [upstream.port])] }));
    t.deepEqual(result.portErrors, []);
    const status = async (target: string, extra = "") =>
      (await rawExchange(port, [upgradeRequest(target, extra)], ["GET"], { timeoutMs: 2000 })).responses[0];

    // The path the route decides is the path the backend gets: no URL parser turns it into /admin.
    const denied = await status("/public/%2e%2e/admin/ws");
    t.is(denied?.status, 302);
    t.is(responseHeader(denied!, "location")?.toString(), `http://chat.test:${port}/denied`);
    t.is(upstream.seen.length, 0);

    const open = await status("/public/%2e%2e/chat%2Froom?x=1", "X-Forwarded-Host: evil.test\r\nX-Secret: s\r\n");
    t.is(open?.status, 101);
    t.is(upstream.seen.length, 1);
    const seen = upstream.seen[0]!;
    t.is(seen.url, "/chat%2Froom?x=1");
    t.is(seen.headers["host"], "chat.test");
    t.is(seen.headers["x-added"], "yes");
    t.is(seen.headers["x-secret"], undefined);
    t.is(seen.headers["x-forwarded-host"], "chat.test");
    t.is(seen.headers["x-forwarded-for"], "127.0.0.1");
    t.is(seen.headers["x-forwarded-proto"], "http");
    t.regex(seen.headers["x-request-id"] ?? "", /^[0-9a-f-]{36}$/);

    t.is((await status("/limited/ws"))?.status, 101);
    const limited = await status("/limited/ws");
    t.is(limited?.status, 429);
    t.truthy(responseHeader(limited!, "retry-after"));
    t.is((await status("/chat", "X-Bad: a\x7fb\r\n"))?.status, 400);
    t.is((await status("/chat\\x"))?.status, 400);
    t.is(upstream.seen.length, 2);
  } finally {
    await plane.drain(1000);
    upstream.close();
  }
});

test("an upstream that refuses the upgrade: its status reaches the client; one that is down: 503", async (t) => {
  const refusing = await freePort();
  let socket: us_listen_socket | false = false;
  const app = uws.App().any("/*", (res) => {
    res.cork(() => res.writeStatus("403 Forbidden").end("no"));
  });
  await new Promise<void>((resolve) =>
    app.listen("127.0.0.1", refusing, (s) => {
      socket = s;
      resolve();
    }),
  );
  const down = await freePort();
  const port = await freePort();
  const plane = new DataPlane();
  try {
    const p = gatewayPort(port);
    await plane.apply(snapshot({ version: 1, ports: [p], clusters: [cluster("ws", [refusing])] }));
    t.is((await rawExchange(port, [upgradeRequest("/chat")], ["GET"])).responses[0]?.status, 403);
    await plane.apply(snapshot({ version: 2, ports: [p], clusters: [cluster("ws", [down])] }));
    t.is((await rawExchange(port, [upgradeRequest("/chat")], ["GET"])).responses[0]?.status, 503);
  } finally {
    await plane.drain(1000);
    if (socket !== false) uws.us_listen_socket_close(socket);
  }
});
