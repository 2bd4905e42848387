// One generated connection against a gateway port, for fuzz properties: writes the parts (one
// TCP write each, a generated gap apart), then waits for the gateway to answer or close. A
// connection neither answered nor closed after `quietMs` is half-closed by the client, and the
// gateway must then close it within `boundMs`: every connection ends in an answer or a close.
import { connect } from "node:net";

export type Ending = "closed-by-gateway" | "answered" | "silent" | "reset-by-client";

export interface Driven {
  /** Everything the gateway sent. */
  data: Buffer;
  /** How the connection went before the client's FIN (if any was needed). */
  ending: Ending;
}

export interface DriveOptions {
  /** Milliseconds to wait before each part after the first (0: the next event-loop turn). */
  gaps?: readonly number[];
  /** The client half-closes right after its last write instead of waiting. */
  halfClose?: boolean;
  /** Whether `data` holds a whole answer. Default: any byte is one. */
  answered?: (data: Buffer) => boolean;
  /** How long to wait for an answer or a close after the last write. */
  quietMs: number;
  /** After the client's FIN, the gateway must close within this. */
  boundMs?: number;
  /** The client writes parts up to `afterPart` (inclusive), waits `delayMs` and resets the
   * connection (RST): the gateway is left with whatever it had started. */
  reset?: { afterPart: number; delayMs: number };
}

const sleep = (ms: number) => new Promise<void>((resolve) => (ms <= 0 ? setImmediate(resolve) : setTimeout(resolve, ms)));

/** Rejects when the gateway keeps the connection open `boundMs` after the client's FIN. */
export function drive(port: number, parts: readonly Buffer[], options: DriveOptions): Promise<Driven> {
  const answered = options.answered ?? ((data: Buffer) => data.length > 0);
  const boundMs = options.boundMs ?? 3000;
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1", noDelay: true });
    const chunks: Buffer[] = [];
    let closed = false;
    let wake: (() => void) | undefined;
    socket.on("data", (d: Buffer) => {
      chunks.push(d);
      wake?.();
    });
    socket.on("error", () => undefined); // a reset is one way to be closed
    socket.on("close", () => {
      closed = true;
      wake?.();
    });
    const data = () => Buffer.concat(chunks);
    /** Resolves when the connection closed, `done()` holds, or `ms` passed. */
    const until = (ms: number, done: () => boolean) =>
      new Promise<void>((ready) => {
        const timer = setTimeout(finish, ms);
        function finish() {
          clearTimeout(timer);
          wake = undefined;
          ready();
        }
        wake = () => {
          if (closed || done()) finish();
        };
        wake();
      });
    socket.once("connect", () => {
      void (async () => {
        const last = options.reset === undefined ? parts.length - 1 : Math.min(options.reset.afterPart, parts.length - 1);
        for (let i = 0; i <= last; i++) {
          if (i > 0) await sleep(options.gaps?.[i - 1] ?? 0);
          if (closed) break;
          socket.write(parts[i]!);
        }
        if (options.reset !== undefined) {
          await sleep(options.reset.delayMs);
          socket.resetAndDestroy();
          resolve({ data: data(), ending: "reset-by-client" });
          return;
        }
        if (options.halfClose === true && !closed) socket.end();
        await until(options.quietMs, () => answered(data()));
        const ending: Ending = answered(data()) ? "answered" : closed ? "closed-by-gateway" : "silent";
        if (!closed) {
          socket.end();
          await until(boundMs, () => false);
        }
        if (!closed) {
          socket.destroy();
          reject(new Error(`the gateway kept the connection open ${boundMs} ms after the client's FIN (${ending})`));
          return;
        }
        resolve({ data: data(), ending });
      })();
    });
  });
}

/** Cuts `bytes` at the given offsets (any order, out-of-range ones ignored) into parts. */
export function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.min(Math.max(0, c), bytes.length)))]
    .filter((c) => c > 0 && c < bytes.length)
    .sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    parts.push(bytes.subarray(at, p));
    at = p;
  }
  parts.push(bytes.subarray(at));
  return parts;
}
