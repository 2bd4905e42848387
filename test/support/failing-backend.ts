// A real HTTP backend that fails on purpose and counts the attempts it sees per request id.
// Each request says how it should fail, in its own headers, so concurrent cases do not mix:
//   x-test-id      the request id attempts are counted under
//   x-fail         a status (e.g. 500) to answer, "reset" to cut the connection after reading the
//                  request, "reset-early" to cut it as soon as the head arrives (body unread),
//                  or "slow" to answer 200 only after x-slow-ms
//   x-fail-times   how many attempts of this id fail before it answers 200 (default: all)
//   x-delay-ms     how long every answer (failing or not) waits
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FailingBackend {
  port: number;
  /** Attempts seen for a request id. */
  attempts(id: string): number;
  /** SHA-256 (hex) and length of each attempt's body, for a request id, in arrival order. */
  bodies(id: string): { sha: string; bytes: number }[];
  close(): Promise<void>;
}

export async function startFailingBackend(): Promise<FailingBackend> {
  const seen = new Map<string, number>();
  const bodies = new Map<string, { sha: string; bytes: number }[]>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const id = String(req.headers["x-test-id"] ?? "");
    const n = (seen.get(id) ?? 0) + 1;
    seen.set(id, n);
    const mode = String(req.headers["x-fail"] ?? "");
    const failTimes = Number(req.headers["x-fail-times"] ?? Infinity);
    const delayMs = Number(req.headers["x-delay-ms"] ?? 0);
    const failing = n <= failTimes;
    if (failing && mode === "reset-early") {
      req.socket.destroy();
      return;
    }
    const hash = createHash("sha256");
    let bytes = 0;
    req.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    req.on("end", () => {
      const list = bodies.get(id) ?? [];
      list.push({ sha: hash.digest("hex"), bytes });
      bodies.set(id, list);
      const answer = () => {
        if (failing && mode === "reset") {
          req.socket.destroy();
          return;
        }
        const status = failing && /^\d{3}$/.test(mode) ? Number(mode) : 200;
        res.writeHead(status, { "content-type": "text/plain", "x-attempt": String(n) });
        res.end(`${status} on attempt ${n}\n`);
      };
      const wait = failing && mode === "slow" ? Number(req.headers["x-slow-ms"] ?? 0) : delayMs;
      if (wait > 0) setTimeout(answer, wait);
      else answer();
    });
    req.on("error", () => {});
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    attempts: (id) => seen.get(id) ?? 0,
    bodies: (id) => bodies.get(id) ?? [],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
