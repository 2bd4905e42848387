// Byte-exact HTTP/1.1 for request-integrity tests: a backend that records every request as the
// bytes it received (through llhttp, Node's parser, which would see a smuggled request as a second
// request), and a client that writes exact bytes and reads the answers off the socket itself.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { DataPlane } from "../../gateway/data-plane.js";
import type { PortInput } from "../../gateway/snapshot.js";
import { freePort } from "./net.js";
import { cluster, simplePort, snapshot } from "./snapshot.js";

export interface RecordedRequest {
  method: string;
  /** The request target's bytes. */
  target: Buffer;
  /** Header names lower-cased, values as bytes, in the order received. */
  headers: [string, Buffer][];
  body: Buffer;
  /** Which backend connection carried it (0, 1, ...). */
  connection: number;
}

export interface RecordingBackend {
  port: number;
  received: RecordedRequest[];
  /** How the backend answers; the default echoes the request's `x-tag` header and target. */
  answer: (req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest) => void;
  close(): Promise<void>;
}

/** The recorded value of a header, or undefined. */
export function headerBytes(r: RecordedRequest, name: string): Buffer | undefined {
  return r.headers.find(([n]) => n === name)?.[1];
}

export async function recordingBackend(): Promise<RecordingBackend> {
  const received: RecordedRequest[] = [];
  let connections = 0;
  const backend: RecordingBackend = {
    port: 0,
    received,
    answer: (_req, res, recorded) => {
      const tag = headerBytes(recorded, "x-tag") ?? Buffer.alloc(0);
      const body = Buffer.concat([Buffer.from("tag="), tag, Buffer.from(" target="), recorded.target]);
      res.writeHead(200, { "content-type": "application/octet-stream", "x-echo-tag": tag.toString("latin1"), "content-length": body.length });
      res.end(body);
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer({ insecureHTTPParser: false, keepAliveTimeout: 30_000 }, (req, res) => {
    const socket = req.socket as Socket & { meshgateIndex?: number };
    socket.meshgateIndex ??= connections++;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const headers: [string, Buffer][] = [];
      // Node hands header values and the target over as latin1: one char per byte.
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        headers.push([(req.rawHeaders[i] ?? "").toLowerCase(), Buffer.from(req.rawHeaders[i + 1] ?? "", "latin1")]);
      }
      const recorded: RecordedRequest = {
        method: req.method ?? "",
        target: Buffer.from(req.url ?? "", "latin1"),
        headers,
        body: Buffer.concat(chunks),
        connection: socket.meshgateIndex ?? -1,
      };
      received.push(recorded);
      backend.answer(req, res, recorded);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  backend.port = (server.address() as AddressInfo).port;
  return backend;
}

export interface RawResponse {
  status: number;
  /** Header names lower-cased, values as bytes. */
  headers: [string, Buffer][];
  body: Buffer;
  /** The head as received, for messages. */
  head: string;
}

export function responseHeader(r: RawResponse, name: string): Buffer | undefined {
  return r.headers.find(([n]) => n === name)?.[1];
}

export interface RawExchange {
  responses: RawResponse[];
  /** The gateway closed the connection. */
  closed: boolean;
  /** Bytes after the last whole response (a body the framing did not announce, garbage). */
  trailing: Buffer;
}

/**
 * Parses whole responses off `buf`, one per method in `methods` (a HEAD answer has no body).
 * Returns the responses and how many bytes they took.
 */
export function parseResponses(buf: Buffer, methods: readonly string[]): { responses: RawResponse[]; used: number } {
  const responses: RawResponse[] = [];
  let at = 0;
  while (responses.length < methods.length) {
    const end = buf.indexOf("\r\n\r\n", at);
    if (end < 0) break;
    const head = buf.toString("latin1", at, end);
    const lines = head.split("\r\n");
    const status = Number(lines[0]?.slice(9, 12));
    const headers: [string, Buffer][] = lines.slice(1).map((line) => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).toLowerCase(), Buffer.from(line.slice(colon + 1).trim(), "latin1")];
    });
    let pos = end + 4;
    if (status >= 100 && status < 200 && status !== 101) {
      at = pos;
      continue;
    }
    const method = methods[responses.length];
    const length = headers.find(([n]) => n === "content-length")?.[1].toString();
    const chunked = headers.some(([n, v]) => n === "transfer-encoding" && /chunked/i.test(v.toString()));
    let body: Buffer = Buffer.alloc(0);
    if (method === "HEAD" || status === 101 || status === 204 || status === 304) {
      // no body
    } else if (chunked) {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = buf.indexOf("\r\n", pos);
        if (lineEnd < 0) return { responses, used: at };
        const size = parseInt(buf.toString("latin1", pos, lineEnd), 16);
        if (buf.length < lineEnd + 2 + size + 2) return { responses, used: at };
        parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        pos = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(parts);
    } else if (length !== undefined) {
      const n = Number(length);
      if (buf.length < pos + n) break;
      body = buf.subarray(pos, pos + n);
      pos += n;
    }
    responses.push({ status, headers, body, head });
    at = pos;
  }
  return { responses, used: at };
}

/**
 * Writes `parts` to the gateway (each after the answers to the requests before it have arrived,
 * unless `pipelined`), and collects `methods.length` answers, or what came before the connection
 * closed or `timeoutMs` passed.
 */
export function rawExchange(
  port: number,
  parts: readonly Buffer[],
  methods: readonly string[],
  options: { timeoutMs?: number; gapMs?: number } = {},
): Promise<RawExchange> {
  const timeoutMs = options.timeoutMs ?? 3000;
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let closed = false;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const buf = Buffer.concat(chunks);
      const { responses, used } = parseResponses(buf, methods);
      socket.destroy();
      resolve({ responses, closed, trailing: buf.subarray(used) });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on("data", (d: Buffer) => {
      chunks.push(d);
      if (parseResponses(Buffer.concat(chunks), methods).responses.length === methods.length) {
        // Give any bytes that should not be there a moment to show.
        setTimeout(finish, 20);
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      closed = true;
      finish();
    });
    let delay = 0;
    for (const part of parts) {
      setTimeout(() => {
        if (!socket.destroyed) socket.write(part);
      }, delay);
      delay += options.gapMs ?? 0;
    }
  });
}

/** One client connection kept open across several sends, for sequences of requests. */
export class RawConnection {
  private readonly socket: Socket;
  private buffered = Buffer.alloc(0);
  closed = false;
  private wake: (() => void) | undefined;

  constructor(port: number) {
    this.socket = connect(port, "127.0.0.1");
    this.socket.on("data", (d: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, d]);
      this.wake?.();
    });
    this.socket.on("error", () => {});
    this.socket.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
  }

  /**
   * Writes `parts` `gapMs` apart and waits for one answer per method (or the close, or
   * `timeoutMs`); the answers are taken off the connection.
   */
  async send(parts: readonly Buffer[], methods: readonly string[], gapMs = 0, timeoutMs = 3000): Promise<RawResponse[]> {
    parts.forEach((part, i) =>
      setTimeout(() => {
        if (!this.socket.destroyed) this.socket.write(part);
      }, i * gapMs),
    );
    return this.read(methods, timeoutMs);
  }

  write(part: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(part);
  }

  /** Waits for one answer per method (or the close, or `timeoutMs`) and takes them off. */
  async read(methods: readonly string[], timeoutMs = 3000): Promise<RawResponse[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { responses, used } = parseResponses(this.buffered, methods);
      if (responses.length === methods.length || this.closed || Date.now() > deadline) {
        this.buffered = this.buffered.subarray(used);
        return responses;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * A DataPlane on a free port whose routes (by default: every host and path) go to a fresh
 * recording backend; drained and closed after `run`.
 */
export async function withRecordingGateway(
  options: { routes?: Parameters<typeof simplePort>[1]; client?: PortInput["client"]; connectionsPerEndpoint?: number },
  run: (port: number, backend: RecordingBackend) => Promise<void>,
): Promise<void> {
  const backend = await recordingBackend();
  const port = await freePort();
  const plane = new DataPlane();
  try {
    const result = await plane.apply(
      snapshot({
        version: 1,
        ports: [simplePort(port, options.routes ?? [{ backends: [{ cluster: "c" }] }], options.client)],
        clusters: [cluster("c", [backend.port], options.connectionsPerEndpoint === undefined ? {} : { connectionsPerEndpoint: options.connectionsPerEndpoint })],
      }),
    );
    if (result.portErrors.length > 0) throw new Error(JSON.stringify(result.portErrors));
    await run(port, backend);
  } finally {
    await plane.drain(1000);
    await backend.close();
  }
}
