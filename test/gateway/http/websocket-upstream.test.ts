// The upstream WebSocket client against real servers: uWebSockets.js for a well-behaved
// upstream, and raw TCP servers that write exactly the bytes a case needs (split frames,
// malformed answers, protocol violations) and read back exactly what the client sent.
import test from "ava";
import * as fc from "fast-check";
import { createHash, randomBytes } from "node:crypto";
import { type Socket, createServer } from "node:net";
import type { WebSocketBehavior, us_listen_socket, us_socket } from "uWebSockets.js";
import {
  UpstreamWebSocket,
  type UpstreamWebSocketEvents,
  type UpstreamWebSocketOptions,
} from "../../../gateway/http/websocket-upstream.js";
import { uws } from "../../../gateway/uws.js";
import { freePort } from "../../support/net.js";
import { fcSeed } from "../../support/fc-seed.js";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- the client side: every event recorded, with a way to wait for one ----

class Recorder implements UpstreamWebSocketEvents {
  opened: string | undefined;
  refused: { status: number; reason: string } | undefined;
  messages: { data: Buffer; binary: boolean }[] = [];
  closes: { code: number; reason: string }[] = [];
  drains = 0;
  /** Runs inside onMessage, before the message is recorded as handled. */
  onEachMessage: ((data: Buffer, binary: boolean) => void) | undefined;
  private waiters = new Set<() => void>();

  onOpen(protocol: string): void {
    this.opened = protocol;
    this.changed();
  }
  onRefused(status: number, reason: string): void {
    this.refused = { status, reason };
    this.changed();
  }
  onMessage(data: Buffer, binary: boolean): void {
    // Copied: the test holds messages beyond the callback.
    this.messages.push({ data: Buffer.from(data), binary });
    this.onEachMessage?.(data, binary);
    this.changed();
  }
  onClose(code: number, reason: string): void {
    this.closes.push({ code, reason });
    this.changed();
  }
  onDrain(): void {
    this.drains++;
    this.changed();
  }

  /** Resolves when `check` holds: checked after every event, and every 10 ms for what the server side records. */
  until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        clearInterval(poll);
        this.waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const waiter = () => {
        if (!check()) return;
        clearTimeout(timer);
        clearInterval(poll);
        this.waiters.delete(waiter);
        resolve();
      };
      const poll = setInterval(waiter, 10);
      this.waiters.add(waiter);
    });
  }

  async open(): Promise<string> {
    await this.until(() => this.opened !== undefined || this.refused !== undefined, "the handshake");
    if (this.opened === undefined) throw new Error(`refused: ${JSON.stringify(this.refused)}`);
    return this.opened;
  }

  private changed(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

function dial(
  port: number,
  options: Partial<UpstreamWebSocketOptions> = {},
): { ws: UpstreamWebSocket; events: Recorder } {
  const events = new Recorder();
  const ws = new UpstreamWebSocket(
    {
      host: "127.0.0.1",
      port,
      path: "/",
      headers: {},
      handshakeTimeoutMs: 2000,
      maxPayloadBytes: 4 * 1024 * 1024,
      ...options,
    },
    events,
  );
  return { ws, events };
}

// ---- a uWebSockets.js upstream ----

async function uwsServer(behavior: WebSocketBehavior<unknown>): Promise<{ port: number; close(): void }> {
  const app = uws.App().ws("/*", { compression: uws.DISABLED, ...behavior });
  const token = await new Promise<us_listen_socket>((resolve, reject) =>
    app.listen("127.0.0.1", 0, (socket) => (socket === false ? reject(new Error("uWS listen failed")) : resolve(socket))),
  );
  return {
    port: uws.us_socket_local_port(token as unknown as us_socket),
    close: () => uws.us_listen_socket_close(token),
  };
}

// ---- a raw TCP upstream ----

interface ClientFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  mask: Buffer;
  payload: Buffer;
}

/** Client frames as they arrive on a raw server's socket, unmasked. */
class FrameInbox {
  private buffered = Buffer.alloc(0);
  private frames: ClientFrame[] = [];
  private wake: (() => void) | undefined;
  ended = false;

  constructor(socket: Socket, first: Buffer) {
    this.push(first);
    socket.on("data", (chunk: Buffer) => this.push(chunk));
    socket.on("close", () => {
      this.ended = true;
      this.wake?.();
    });
  }

  async next(timeoutMs = 3000): Promise<ClientFrame> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.ended) throw new Error("socket closed before a frame");
      if (Date.now() > deadline) throw new Error("no frame from the client");
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return this.frames.shift() as ClientFrame;
  }

  private push(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    for (;;) {
      const b = this.buffered;
      if (b.length < 2) break;
      let length = (b[1] as number) & 0x7f;
      let at = 2;
      if (length === 126) {
        if (b.length < 4) break;
        length = b.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (b.length < 10) break;
        length = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      const masked = ((b[1] as number) & 0x80) !== 0;
      const mask = masked ? b.subarray(at, at + 4) : Buffer.alloc(4);
      if (masked) at += 4;
      if (b.length < at + length) break;
      const payload = Buffer.from(b.subarray(at, at + length));
      for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (mask[i & 3] as number);
      this.frames.push({ fin: ((b[0] as number) & 0x80) !== 0, opcode: (b[0] as number) & 0x0f, masked, mask: Buffer.from(mask), payload });
      this.buffered = b.subarray(at + length);
    }
    this.wake?.();
  }
}

interface Upgrade {
  socket: Socket;
  /** The request head as bytes (latin1), up to and including the empty line. */
  head: string;
  key: string;
  inbox: FrameInbox;
}

async function rawServer(
  onUpgrade: (u: Upgrade) => void | Promise<void>,
): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf("\r\n\r\n");
      if (end === -1) return;
      socket.off("data", onData);
      const head = received.toString("latin1", 0, end + 4);
      const key = /\r\nsec-websocket-key: ([^\r]*)\r\n/i.exec(head)?.[1] ?? "";
      const inbox = new FrameInbox(socket, received.subarray(end + 4));
      void onUpgrade({ socket, head, key, inbox });
    };
    socket.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    port: address.port,
    connections: () => connections,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const acceptOf = (key: string) => createHash("sha1").update(key + GUID).digest("base64");

function answer101(key: string, extra = "", accept = acceptOf(key)): string {
  return (
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`
  );
}

/** A server frame, unmasked unless asked; `length64` spells even a short length in 8 bytes. */
function frame(
  opcode: number,
  payload: Buffer | string,
  o: { fin?: boolean; rsv?: number; mask?: boolean; length64?: boolean } = {},
): Buffer {
  const data = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
  const n = data.length;
  const head: number[] = [((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode];
  const maskBit = o.mask === true ? 0x80 : 0;
  if (o.length64 === true || n > 0xffff) {
    head.push(maskBit | 127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  } else if (n >= 126) {
    head.push(maskBit | 126, n >>> 8, n & 0xff);
  } else {
    head.push(maskBit | n);
  }
  if (o.mask !== true) return Buffer.concat([Buffer.from(head), data]);
  const mask = randomBytes(4);
  const masked = Buffer.from(data.map((b, i) => b ^ (mask[i & 3] as number)));
  return Buffer.concat([Buffer.from(head), mask, masked]);
}

const closeFrame = (code: number, reason: string) => {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return frame(0x8, payload);
};

function closeCodeOf(f: ClientFrame): number {
  return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
}

// ---- fast-check settings ----

const seed = fcSeed();


// ---- handshake ----

test("opens with the subprotocol the uWS server chose, which saw the path and headers as given", async (t) => {
  let seen: { method: string; url: string; query: string; headers: Record<string, string> } | undefined;
  const server = await uwsServer({
    upgrade: (res, req, context) => {
      const headers: Record<string, string> = {};
      req.forEach((name, value) => (headers[name] = value));
      seen = { method: req.getMethod(), url: req.getUrl(), query: req.getQuery(), headers };
      const offered = headers["sec-websocket-protocol"]?.split(",").map((p) => p.trim()) ?? [];
      res.upgrade({}, headers["sec-websocket-key"] ?? "", offered[1] ?? "", "", context);
    },
  });
  try {
    const { ws, events } = dial(server.port, {
      path: "/public/%2e%2e/admin/%2F/ws?x=%2e%2E",
      headers: {
        host: "chat.example",
        "sec-websocket-protocol": "chat.v2, chat.v1",
        "x-request-id": "r-1",
        // The module owns these: the caller's values must not reach the upstream.
        Connection: "keep-alive",
        "sec-websocket-extensions": "permessage-deflate",
        "Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAAAA==",
        "sec-websocket-version": "8",
      },
    });
    t.is(await events.open(), "chat.v1");
    t.truthy(seen);
    t.is(seen?.method, "get");
    t.is(seen?.url, "/public/%2e%2e/admin/%2F/ws");
    t.is(seen?.query, "x=%2e%2E");
    const headers = seen?.headers ?? {};
    t.is(headers["host"], "chat.example");
    t.is(headers["x-request-id"], "r-1");
    t.is(headers["connection"], "Upgrade");
    t.is(headers["upgrade"], "websocket");
    t.is(headers["sec-websocket-version"], "13");
    t.is(headers["sec-websocket-extensions"], undefined);
    t.not(headers["sec-websocket-key"], "AAAAAAAAAAAAAAAAAAAAAA==");
    t.is(Buffer.from(headers["sec-websocket-key"] ?? "", "base64").length, 16);
    ws.destroy();
  } finally {
    server.close();
  }
});

test("the request head reaches a raw server byte for byte, latin1 values and escapes kept", async (t) => {
  const heads: string[] = [];
  const server = await rawServer(({ socket, head, key }) => {
    heads.push(head);
    socket.write(answer101(key));
  });
  try {
    const first = dial(server.port, {
      path: "/public/%2e%2e/admin/%2F%2f/ws?q=%2e%2e&r=/../",
      headers: { host: "h.example:8080", "x-latin": "caf\u00e9 \u00ff", "sec-websocket-protocol": "a, b" },
    });
    t.is(await first.events.open(), "", "no subprotocol chosen");
    const key = /sec-websocket-key: (.*)\r\n/.exec(heads[0] ?? "")?.[1] ?? "";
    t.is(Buffer.from(key, "base64").length, 16);
    t.is(
      heads[0],
      "GET /public/%2e%2e/admin/%2F%2f/ws?q=%2e%2e&r=/../ HTTP/1.1\r\n" +
        "host: h.example:8080\r\nx-latin: caf\u00e9 \u00ff\r\nsec-websocket-protocol: a, b\r\n" +
        `connection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: ${key}\r\n\r\n`,
    );
    // Without a Host from the caller, the address dialled is the Host; each handshake has its own key.
    const second = dial(server.port, { path: "/x" });
    await second.events.open();
    t.regex(heads[1] ?? "", new RegExp(`^GET /x HTTP/1\\.1\\r\\n.*host: 127\\.0\\.0\\.1:${server.port}\\r\\n\\r\\n$`, "s"));
    t.not(/sec-websocket-key: (.*)\r\n/.exec(heads[1] ?? "")?.[1], key);
    first.ws.destroy();
    second.ws.destroy();
  } finally {
    await server.close();
  }
});

test("a request that cannot go on the wire as given is refused with 400 before connecting", async (t) => {
  const server = await rawServer(() => {});
  try {
    const cases: [string, Partial<UpstreamWebSocketOptions>][] = [
      ["CRLF in a header value", { headers: { "x-a": "1\r\nx-injected: 1" } }],
      ["LF in the path", { path: "/a\nb" }],
      ["space in the path", { path: "/a b" }],
      ["NUL in a header value", { headers: { "x-a": "a\u0000b" } }],
      ["char above 0xFF in a value", { headers: { "x-a": "\u0100" } }],
      ["char above 0xFF in the path", { path: "/\u20ac" }],
      ["bad header name", { headers: { "x a": "1" } }],
    ];
    for (const [name, options] of cases) {
      const { events } = dial(server.port, options);
      await events.until(() => events.refused !== undefined || events.opened !== undefined, name);
      t.is(events.refused?.status, 400, name);
      t.log(`${name}: ${events.refused?.reason}`);
    }
    t.is(server.connections(), 0, "nothing was dialled");
  } finally {
    await server.close();
  }
});

test("refusals: connection refused, a 403, and handshake timeout", async (t) => {
  const closedPort = await freePort();
  const refused = dial(closedPort);
  await refused.events.until(() => refused.events.refused !== undefined, "refusal");
  t.is(refused.events.refused?.status, 0);

  const server = await uwsServer({
    upgrade: (res) => {
      res.writeStatus("403 Forbidden").end("no");
    },
  });
  try {
    const forbidden = dial(server.port);
    await forbidden.events.until(() => forbidden.events.refused !== undefined, "refusal");
    t.is(forbidden.events.refused?.status, 403);
    t.is(forbidden.events.opened, undefined);
  } finally {
    server.close();
  }

  const silent = await rawServer(() => {});
  try {
    const started = performance.now();
    const hung = dial(silent.port, { handshakeTimeoutMs: 200 });
    await hung.events.until(() => hung.events.refused !== undefined, "timeout");
    const elapsed = performance.now() - started;
    t.is(hung.events.refused?.status, 504);
    t.regex(hung.events.refused?.reason ?? "", /timed out/);
    t.true(elapsed >= 190 && elapsed < 1500, `took ${elapsed} ms`);
  } finally {
    await silent.close();
  }
});

test("an invalid 101 is refused with 502; an interim 1xx before the 101 is skipped", async (t) => {
  const answers: [string, (key: string) => string | Buffer, number | "open"][] = [
    ["wrong accept key", (key) => answer101(key, "", acceptOf(key + "x")), 502],
    ["an extension", (key) => answer101(key, "Sec-WebSocket-Extensions: permessage-deflate\r\n"), 502],
    ["a subprotocol not offered", (key) => answer101(key, "Sec-WebSocket-Protocol: other\r\n"), 502],
    ["no Upgrade header", (key) => answer101(key).replace("Upgrade: websocket\r\n", ""), 502],
    ["Connection without upgrade", (key) => answer101(key).replace("Connection: Upgrade", "Connection: close"), 502],
    ["101 in HTTP/1.0", (key) => answer101(key).replace("HTTP/1.1", "HTTP/1.0"), 502],
    ["a head above 16 KiB", (key) => answer101(key, `X-Big: ${"a".repeat(17 * 1024)}\r\n`), 502],
    ["bare LF", (key) => answer101(key).replace("\r\nConnection", "\nConnection"), 502],
    ["closed mid-head", () => "HTTP/1.1 101 Switching Protocols\r\nUpg", 502],
    ["a 503", () => "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n", 503],
    ["103 then 101", (key) => `HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n${answer101(key, "Sec-WebSocket-Protocol: p\r\n")}`, "open"],
    ["Upgrade and Connection in other cases", (key) => answer101(key).replace("websocket", "WebSocket").replace("Connection: Upgrade", "connection: keep-alive, UPGRADE"), "open"],
  ];
  let current = 0;
  const server = await rawServer(({ socket, key }) => {
    const reply = (answers[current] as (typeof answers)[number])[1](key);
    socket.end(reply);
  });
  try {
    for (; current < answers.length; current++) {
      const [name, , expected] = answers[current] as (typeof answers)[number];
      const { ws, events } = dial(server.port, { headers: { "sec-websocket-protocol": "p, q" } });
      await events.until(() => events.refused !== undefined || events.opened !== undefined, name);
      if (expected === "open") t.is(typeof events.opened, "string", name);
      else t.is(events.refused?.status, expected, `${name}: ${events.refused?.reason}`);
      ws.destroy();
    }
  } finally {
    await server.close();
  }
});

// ---- messages ----

test("echoes text and binary messages of 0 to 1 MiB through uWS", async (t) => {
  const server = await uwsServer({
    maxPayloadLength: 2 * 1024 * 1024,
    maxBackpressure: 16 * 1024 * 1024,
    message: (ws, message, isBinary) => {
      ws.send(message, isBinary);
    },
  });
  try {
    const { ws, events } = dial(server.port);
    await events.open();
    const sent: { data: Buffer; binary: boolean }[] = [];
    for (const size of [0, 1, 125, 126, 127, 65535, 65536, 1024 * 1024]) {
      const bytes = randomBytes(size);
      ws.send(bytes, true);
      // An ArrayBuffer view of other memory: only its own bytes are sent.
      const copy = new Uint8Array(size);
      copy.set(bytes);
      ws.send(copy.buffer, true);
      // Text with a two-byte character up front, `size` bytes in all.
      const text = size >= 2 ? `\u00e9${"x".repeat(size - 2)}` : "y".repeat(size);
      ws.send(text, false);
      // Text given as UTF-8 bytes.
      ws.send(Buffer.from(text), false);
      sent.push({ data: bytes, binary: true }, { data: bytes, binary: true });
      sent.push({ data: Buffer.from(text), binary: false }, { data: Buffer.from(text), binary: false });
    }
    await events.until(() => events.messages.length === sent.length, `${sent.length} echoes`, 10000);
    for (let i = 0; i < sent.length; i++) {
      const got = events.messages[i];
      const want = sent[i] as (typeof sent)[number];
      t.is(got?.binary, want.binary, `message ${i}`);
      t.is(got?.data.length, want.data.length, `message ${i}`);
      t.true(got?.data.equals(want.data), `message ${i} bytes`);
    }
    ws.destroy();
  } finally {
    server.close();
  }
});

test("reassembles fragmented messages with the stream split at every byte", async (t) => {
  // Fragments, a ping inside a fragmented message, a character split across fragments, an
  // empty message, 16-bit and (non-minimal) 64-bit lengths.
  const big = randomBytes(300);
  const stream = Buffer.concat([
    frame(0x1, Buffer.from("h\u00e9llo").subarray(0, 2), { fin: false }),
    frame(0x9, "ping!"),
    frame(0x0, Buffer.from("h\u00e9llo").subarray(2), { fin: false }),
    frame(0x0, "", { fin: true }),
    frame(0x2, big.subarray(0, 130), { fin: false }),
    frame(0x0, big.subarray(130, 131), { fin: false, length64: true }),
    frame(0x0, big.subarray(131), { fin: true }),
    frame(0x1, ""),
    frame(0x2, "xyz", { length64: true }),
  ]);
  const expected = [
    { data: Buffer.from("h\u00e9llo"), binary: false },
    { data: big, binary: true },
    { data: Buffer.alloc(0), binary: false },
    { data: Buffer.from("xyz"), binary: true },
  ];
  const splits = stream.length + 1;
  let pongs = 0;
  const server = await rawServer(async ({ socket, key, inbox }) => {
    socket.write(answer101(key));
    void (async () => {
      for (;;) {
        const f = await inbox.next(10000);
        if (f.opcode === 0xa && f.payload.toString() === "ping!") pongs++;
      }
    })().catch(() => {});
    for (let at = 0; at < splits; at++) {
      socket.write(stream.subarray(0, at));
      // A pause long enough for the two halves to arrive as separate reads.
      await delay(1);
      socket.write(stream.subarray(at));
    }
  });
  try {
    const { ws, events } = dial(server.port);
    await events.open();
    await events.until(() => events.messages.length >= splits * expected.length, "all messages", 15000);
    t.is(events.messages.length, splits * expected.length);
    let bad = 0;
    events.messages.forEach((m, i) => {
      const want = expected[i % expected.length] as (typeof expected)[number];
      if (m.binary !== want.binary || !m.data.equals(want.data)) bad++;
    });
    t.is(bad, 0, "every split gave the same messages");
    await events.until(() => pongs === splits, "a pong per ping");
    t.deepEqual(events.closes, []);
    ws.destroy();
  } finally {
    await server.close();
  }
});

test("random fragmentations and read splits, the answer head included, give the same messages (fast-check)", async (t) => {
  const numRuns = 100;
  t.log(`fast-check seed ${seed}, numRuns ${numRuns} (replay with FC_SEED=${seed})`);
  // What the server writes after reading the request: the 101 and the frames, cut into reads.
  let frames = Buffer.alloc(0);
  let splitPoints: number[] = [];
  let serverPongs: Buffer[] = [];
  const server = await rawServer(async ({ socket, key, inbox }) => {
    const stream = Buffer.concat([Buffer.from(answer101(key), "latin1"), frames]);
    const cuts = [...new Set(splitPoints.map((p) => p % (stream.length + 1)))].sort((a, b) => a - b);
    const edges = [0, ...cuts, stream.length];
    void (async () => {
      for (;;) {
        const f = await inbox.next(10000);
        if (f.opcode === 0xa) serverPongs.push(f.payload);
      }
    })().catch(() => {});
    for (let i = 0; i + 1 < edges.length; i++) {
      socket.write(stream.subarray(edges[i], edges[i + 1]));
      await new Promise((resolve) => setImmediate(resolve));
    }
  });
  const message = fc.oneof(
    fc.uint8Array({ maxLength: 400 }).map((bytes) => ({ data: Buffer.from(bytes), binary: true })),
    fc.string({ unit: "binary", maxLength: 200 }).map((text) => ({ data: Buffer.from(text, "utf8"), binary: false })),
  );
  // A message, the points where it is cut into fragments, and a ping after some fragments.
  const fragmented = fc.record({
    message,
    cuts: fc.array(fc.nat(), { maxLength: 5 }),
    pings: fc.array(fc.boolean(), { maxLength: 6 }),
  });
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(fragmented, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 12 }), async (messages, splits) => {
        const pieces: Buffer[] = [];
        const pings: Buffer[] = [];
        for (const { message: m, cuts, pings: pingAfter } of messages) {
          const bounds = [...new Set(cuts.map((c) => c % (m.data.length + 1)))].sort((a, b) => a - b);
          const edges = [0, ...bounds, m.data.length];
          for (let i = 0; i + 1 < edges.length; i++) {
            const last = i + 2 === edges.length;
            const part = m.data.subarray(edges[i], edges[i + 1]);
            pieces.push(frame(i === 0 ? (m.binary ? 0x2 : 0x1) : 0x0, part, { fin: last }));
            if (!last && pingAfter[i] === true) {
              const payload = Buffer.from(`p${pings.length}`);
              pings.push(payload);
              pieces.push(frame(0x9, payload));
            }
          }
        }
        frames = Buffer.concat(pieces);
        splitPoints = splits;
        serverPongs = [];
        // Short waits: a failing case is run again many times while fast-check shrinks it.
        const { ws, events } = dial(server.port, { handshakeTimeoutMs: 500 });
        try {
          await events.open();
          await events.until(() => events.messages.length >= messages.length, "the messages", 1000);
          await events.until(() => serverPongs.length >= pings.length, "the pongs", 1000);
          if (events.messages.length !== messages.length) return false;
          const same = messages.every(({ message: m }, i) => {
            const got = events.messages[i];
            return got !== undefined && got.binary === m.binary && got.data.equals(m.data);
          });
          const pongsMatch = pings.every((p, i) => serverPongs[i]?.equals(p) === true);
          return same && pongsMatch && events.closes.length === 0;
        } finally {
          ws.destroy();
        }
      }),
      // A failing case costs a timeout per shrink step: cap the whole run, shrinking included.
      { seed, numRuns, interruptAfterTimeLimit: 10000, markInterruptAsFailure: true },
    );
    t.pass();
  } finally {
    await server.close();
  }
});

test("answers pings with masked pongs of the same payload; every frame has a fresh mask", async (t) => {
  const server = await rawServer(async ({ socket, key, inbox }) => {
    socket.write(answer101(key));
    socket.write(Buffer.concat([frame(0x9, "hello"), frame(0x9, Buffer.alloc(125, 7)), frame(0xa, "unasked")]));
    const frames: ClientFrame[] = [];
    for (let i = 0; i < 5; i++) frames.push(await inbox.next());
    const [pong1, pong2, ...texts] = frames;
    t.is(pong1?.opcode, 0xa);
    t.true(pong1?.masked);
    t.is(pong1?.payload.toString(), "hello");
    t.is(pong2?.opcode, 0xa);
    t.true(pong2?.payload.equals(Buffer.alloc(125, 7)));
    t.deepEqual(
      texts.map((f) => [f.opcode, f.fin, f.masked, f.payload.toString()]),
      [
        [0x1, true, true, "a"],
        [0x1, true, true, "a"],
        [0x1, true, true, "a"],
      ],
    );
    const masks = new Set(frames.map((f) => f.mask.toString("hex")));
    t.is(masks.size, 5, "five frames, five masking keys");
    socket.end(closeFrame(1000, ""));
  });
  try {
    const { ws, events } = dial(server.port);
    await events.open();
    // The pongs go out while the pings are read; the texts after.
    await delay(50);
    for (let i = 0; i < 3; i++) ws.send("a", false);
    await events.until(() => events.closes.length === 1, "the close");
    t.deepEqual(events.messages, [], "pings and pongs are not messages");
  } finally {
    await server.close();
  }
});

// ---- closing ----

test("the server's close code and reason arrive once, and the close is echoed", async (t) => {
  const echoes: ClientFrame[] = [];
  const closes: Buffer[] = [closeFrame(4001, "done h\u00e9re"), frame(0x8, "")];
  let n = 0;
  const server = await rawServer(async ({ socket, key, inbox }) => {
    socket.write(answer101(key));
    socket.write(Buffer.concat([frame(0x1, "last words"), closes[n++] as Buffer, frame(0x1, "after the close")]));
    echoes.push(await inbox.next());
    socket.end();
  });
  try {
    for (const [code, reason] of [
      [4001, "done h\u00e9re"],
      [1005, ""],
    ] as const) {
      const { events } = dial(server.port);
      await events.open();
      await events.until(() => events.closes.length > 0, "the close");
      await delay(50);
      t.deepEqual(events.closes, [{ code, reason }], "reported once");
      t.deepEqual(events.messages.map((m) => m.data.toString()), ["last words"], "nothing read after the close");
    }
    t.deepEqual(
      echoes.map((f) => [f.opcode, f.masked, closeCodeOf(f)]),
      [
        [0x8, true, 4001],
        [0x8, true, 1005],
      ],
    );
  } finally {
    await server.close();
  }
});

test("uWS: end(code, reason) arrives as onClose; close() reaches uWS and is answered", async (t) => {
  const seen: { code: number; message: string }[] = [];
  const server = await uwsServer({
    message: (ws, message) => {
      if (Buffer.from(message).toString() === "bye") ws.end(4000, "server done");
    },
    close: (_ws, code, message) => {
      seen.push({ code, message: Buffer.from(message).toString() });
    },
  });
  try {
    const a = dial(server.port);
    await a.events.open();
    a.ws.send("bye", false);
    await a.events.until(() => a.events.closes.length > 0, "the server's close");
    t.deepEqual(a.events.closes, [{ code: 4000, reason: "server done" }]);

    const b = dial(server.port);
    await b.events.open();
    b.ws.close(4002, "client done");
    // Sends after close() are dropped, not thrown.
    t.true(b.ws.send("late", false));
    await b.events.until(() => b.events.closes.length > 0, "the answer to our close");
    t.is(b.events.closes.length, 1);
    t.is(b.events.closes[0]?.code, 4002, "uWS echoes the code");
    await delay(50);
    t.true(seen.some((s) => s.code === 4002 && s.message === "client done"), JSON.stringify(seen));
    t.is(b.events.closes.length, 1);
  } finally {
    server.close();
  }
});

test("close() with a long reason sends it cut at a character boundary; no answer ends in 1006", async (t) => {
  const got: ClientFrame[] = [];
  const server = await rawServer(async ({ socket, key, inbox }) => {
    socket.write(answer101(key));
    got.push(await inbox.next());
    // No close frame back: the client gives up after its wait.
  });
  try {
    const { ws, events } = dial(server.port);
    await events.open();
    const started = performance.now();
    ws.close(4003, "\u00e9".repeat(100));
    await events.until(() => events.closes.length > 0, "the close", 3000);
    const elapsed = performance.now() - started;
    t.deepEqual(events.closes, [{ code: 1006, reason: "" }]);
    t.true(elapsed >= 900 && elapsed < 2500, `gave up after ${elapsed} ms`);
    const f = got[0];
    t.is(f?.opcode, 0x8);
    t.is(f?.payload.readUInt16BE(0), 4003);
    t.is(f?.payload.subarray(2).toString("utf8"), "\u00e9".repeat(61), "122 bytes: the 62nd character would straddle 123");
  } finally {
    await server.close();
  }
});

test("a server that goes away without a close frame gives 1006", async (t) => {
  const server = await rawServer(({ socket, key }) => {
    socket.write(answer101(key));
    setTimeout(() => socket.destroy(), 20);
  });
  try {
    const { events } = dial(server.port);
    await events.open();
    await events.until(() => events.closes.length > 0, "the close");
    await delay(30);
    t.deepEqual(events.closes, [{ code: 1006, reason: "" }]);
  } finally {
    await server.close();
  }
});

test("protocol violations close with 1002, 1007 or 1009 and a close frame to the server", async (t) => {
  const cases: [string, Buffer, number][] = [
    ["masked server frame", frame(0x1, "hi", { mask: true }), 1002],
    ["RSV1 without an extension", frame(0x1, "hi", { rsv: 4 }), 1002],
    ["unknown data opcode", frame(0x3, "hi"), 1002],
    ["unknown control opcode", frame(0xb, "hi"), 1002],
    ["continuation without a start", frame(0x0, "hi"), 1002],
    ["new message inside a fragmented one", Buffer.concat([frame(0x1, "a", { fin: false }), frame(0x1, "b")]), 1002],
    ["fragmented ping", frame(0x9, "p", { fin: false }), 1002],
    ["ping above 125 bytes", frame(0x9, Buffer.alloc(126)), 1002],
    ["close with a one-byte payload", frame(0x8, Buffer.from([3])), 1002],
    ["close code 1005 on the wire", closeFrame(1005, ""), 1002],
    ["close code 2999", closeFrame(2999, ""), 1002],
    ["message above the maximum", frame(0x2, Buffer.alloc(1001)), 1009],
    ["fragments adding up above the maximum", Buffer.concat([frame(0x2, Buffer.alloc(600), { fin: false }), frame(0x0, Buffer.alloc(401))]), 1009],
    ["64-bit length with the top bit set", Buffer.from([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]), 1009],
    ["invalid UTF-8 text", frame(0x1, Buffer.from([0x61, 0xc3, 0x28])), 1007],
    ["truncated UTF-8 across the last fragment", Buffer.concat([frame(0x1, "a", { fin: false }), frame(0x0, Buffer.from([0xe2, 0x82]))]), 1007],
    ["invalid UTF-8 close reason", Buffer.concat([frame(0x8, Buffer.from([0x03, 0xe8, 0xff]))]), 1007],
  ];
  let current = 0;
  const echoed: (number | string)[] = [];
  const server = await rawServer(async ({ socket, key, inbox }) => {
    socket.write(answer101(key));
    socket.write((cases[current] as (typeof cases)[number])[1]);
    try {
      const f = await inbox.next();
      echoed.push(f.opcode === 0x8 && f.masked ? closeCodeOf(f) : `opcode ${f.opcode}`);
    } catch (err) {
      echoed.push((err as Error).message);
    }
  });
  try {
    for (; current < cases.length; current++) {
      const [name, , code] = cases[current] as (typeof cases)[number];
      const before = echoed.length;
      const { events } = dial(server.port, { maxPayloadBytes: 1000 });
      await events.open();
      await events.until(() => events.closes.length > 0 && echoed.length > before, name);
      t.is(events.closes[0]?.code, code, `${name}: ${events.closes[0]?.reason}`);
      t.is(events.closes.length, 1, name);
      t.is(echoed[before], code, `${name}: the server got a close frame with ${code}`);
      t.deepEqual(events.messages, [], name);
    }
  } finally {
    await server.close();
  }
});

// ---- flow control ----

test("the answer head and the first frames may share a read; pause() holds even frames already read", async (t) => {
  const server = await rawServer(({ socket, key }) => {
    // One write: the 101 and three messages.
    socket.write(Buffer.concat([Buffer.from(answer101(key), "latin1"), frame(0x1, "one"), frame(0x1, "two"), frame(0x2, "three")]));
  });
  try {
    const { ws, events } = dial(server.port);
    events.onEachMessage = (data) => {
      if (data.toString() === "one") ws.pause();
    };
    await events.open();
    await events.until(() => events.messages.length >= 1, "the first message");
    await delay(50);
    t.deepEqual(events.messages.map((m) => m.data.toString()), ["one"], "held while paused");
    ws.resume();
    await events.until(() => events.messages.length >= 3, "the rest");
    t.deepEqual(events.messages.map((m) => [m.data.toString(), m.binary]), [
      ["one", false],
      ["two", false],
      ["three", true],
    ]);
    ws.destroy();
  } finally {
    await server.close();
  }
});

test("send() returns false above the high-water mark and onDrain follows once the upstream reads", async (t) => {
  let serverSocket: Socket | undefined;
  const server = await rawServer(({ socket, key }) => {
    serverSocket = socket;
    socket.write(answer101(key));
    socket.pause(); // not reading: the client's writes pile up
  });
  try {
    const { ws, events } = dial(server.port);
    await events.open();
    const chunk = Buffer.alloc(1024 * 1024);
    let sends = 0;
    while (ws.send(chunk, true)) {
      sends++;
      if (sends > 256) break;
    }
    t.true(sends <= 256, "send() returned false");
    t.is(events.drains, 0);
    serverSocket?.resume();
    await events.until(() => events.drains > 0, "onDrain");
    t.is(events.drains, 1);
    ws.destroy();
  } finally {
    await server.close();
  }
});

test("destroy() during the handshake reports nothing", async (t) => {
  const server = await rawServer(({ socket, key }) => {
    setTimeout(() => socket.write(answer101(key)), 30);
  });
  try {
    const { ws, events } = dial(server.port);
    await delay(10);
    ws.destroy();
    await delay(80);
    t.is(events.opened, undefined);
    t.is(events.refused, undefined);
    t.deepEqual(events.closes, []);
  } finally {
    await server.close();
  }
});
