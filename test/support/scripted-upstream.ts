// A raw TCP upstream for lifecycle tests: answers each connection by the path of its first
// request line, and counts what a test wants to know at the backend (connections open, requests
// seen, body bytes read), so a test can see that the gateway let go of a connection.
import { createHash } from "node:crypto";
import { type AddressInfo, createServer, type Socket } from "node:net";

/**
 * What the upstream does with a request for a path that starts with one of these:
 * - `/hang`: reads everything, never answers;
 * - `/half`: answers a head announcing 100000 bytes and sends 10 of them;
 * - `/ws-silent`: an upgrade that is never answered;
 * - `/ws-refuse-late`: an upgrade answered 503 after 300 ms;
 * - `/ws-open`: an upgrade accepted (a valid 101), then silence;
 * - anything else: 200 "ok".
 */
export interface ScriptedUpstream {
  port: number;
  /** Connections open now. */
  open(): number;
  /** Connections ever accepted. */
  accepted(): number;
  /** Request heads seen, by path, in order. */
  requests: string[];
  /** Bytes read after request heads (bodies). */
  bodyBytes(): number;
  close(): Promise<void>;
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export async function scriptedUpstream(): Promise<ScriptedUpstream> {
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  let accepted = 0;
  let body = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let head = "";
    let answered = false;
    const read = () => {
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      const path = head.slice(0, head.indexOf("\r\n")).split(" ")[1] ?? "";
      requests.push(path);
      const rest = head.slice(end + 4);
      if (answer(socket, path, head.slice(0, end))) {
        // Answered in full (a GET without a body): the connection is kept alive for the next.
        head = rest;
        read();
        return;
      }
      answered = true;
      body += rest.length;
    };
    socket.on("data", (chunk: Buffer) => {
      if (answered) {
        body += chunk.length;
        return;
      }
      head += chunk.toString("latin1");
      read();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    open: () => sockets.size,
    accepted: () => accepted,
    requests,
    bodyBytes: () => body,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Answers one request; true when it was answered in full and the connection may carry another. */
function answer(socket: Socket, path: string, head: string): boolean {
  if (path.startsWith("/hang") || path.startsWith("/ws-silent")) return false;
  if (path.startsWith("/half")) {
    socket.write("HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n0123456789");
    return false;
  }
  if (path.startsWith("/ws-refuse-late")) {
    setTimeout(() => socket.end("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"), 300);
    return false;
  }
  if (path.startsWith("/ws-open")) {
    const key = /sec-websocket-key: *([^\r\n]+)/i.exec(head)?.[1] ?? "";
    const accept = createHash("sha1").update(key + GUID).digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    return false;
  }
  socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
  return true;
}

/** A client's WebSocket upgrade request for `path`. */
export function upgradeHead(path: string): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
    `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`
  );
}

/** The value of an unlabelled series in Prometheus text, or undefined. */
export function seriesValue(text: string, name: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}
