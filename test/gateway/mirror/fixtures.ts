// Shared by the mirror tests: node:http backends that record what reached them, and metrics
// that keep every count.
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { MirrorFailureKind, MirrorMetrics, MirrorSkipReason } from "../../../gateway/mirror/mirror.js";

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Backend {
  port: number;
  received: Received[];
  close(): Promise<void>;
}

/** A backend that reads each request whole, records it and lets `answer` respond. */
export async function backend(
  answer: (req: Received, res: ServerResponse, later: (ms: number, fn: () => void) => void) => void = (_r, res) =>
    res.end("ok"),
): Promise<Backend> {
  const received: Received[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) };
      received.push(seen);
      answer(seen, res, later);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

export class CountingMetrics implements MirrorMetrics {
  readonly sentCount = new Map<string, number>();
  readonly failures: { route: string; kind: MirrorFailureKind }[] = [];
  readonly skips: { route: string; reason: MirrorSkipReason }[] = [];

  sent(route: string): void {
    this.sentCount.set(route, (this.sentCount.get(route) ?? 0) + 1);
  }

  failed(route: string, kind: MirrorFailureKind): void {
    this.failures.push({ route, kind });
  }

  skipped(route: string, reason: MirrorSkipReason): void {
    this.skips.push({ route, reason });
  }

  readonly comparisons: { route: string; matched: boolean }[] = [];
  compared(route: string, matched: boolean): void {
    this.comparisons.push({ route, matched });
  }
}
