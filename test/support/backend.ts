// A real HTTP backend for proxy tests: records what it received and answers as the test says.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  bodyBytes: number;
}

export type Behaviour = (req: IncomingMessage, res: ServerResponse, body: Buffer, bodyBytes: number) => void;

export interface TestBackend {
  port: number;
  name: string;
  received: Received[];
  /** Replace how the backend answers. */
  behave(b: Behaviour): void;
  close(): Promise<void>;
}

/** Default answer: 200 with a small JSON echo naming the backend. */
export function echo(name: string): Behaviour {
  return (req, res, _body, bodyBytes) => {
    const text = JSON.stringify({
      backend: name,
      method: req.method,
      url: req.url,
      headers: req.headers,
      bodyBytes,
    });
    res.writeHead(200, { "content-type": "application/json", "x-backend": name });
    res.end(text);
  };
}

export async function startBackend(name = "backend", collectBody = true, host = "127.0.0.1"): Promise<TestBackend> {
  let behaviour: Behaviour = echo(name);
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on("data", (c: Buffer) => {
      bytes += c.length;
      if (collectBody) chunks.push(c);
    });
    req.on("end", () => {
      received.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, bodyBytes: bytes });
      behaviour(req, res, Buffer.concat(chunks), bytes);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    name,
    received,
    behave(b) {
      behaviour = b;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
