// A raw HTTP/1.1 client connection over TCP or TLS: writes exact bytes, reads answers off the
// socket itself (parseResponses knows a HEAD answer has no body), and tells when the gateway
// closed the connection. The TLS variant of raw-http.ts's RawConnection.
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { parseResponses, type RawResponse } from "./raw-http.js";

export interface RawClientTls {
  /** The CA to trust; the server's certificate is verified against it for `servername`. */
  ca: string;
  servername: string;
}

export class RawClient {
  private buffered = Buffer.alloc(0);
  closed = false;
  private wakers: (() => void)[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on("data", (d: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, d]);
      this.wake();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  /** Connects (and, with `tls`, completes the handshake) before resolving. */
  static open(port: number, tls?: RawClientTls): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket =
        tls === undefined
          ? connect(port, "127.0.0.1")
          : tlsConnect({ host: "127.0.0.1", port, ca: tls.ca, servername: tls.servername });
      const ready = tls === undefined ? "connect" : "secureConnect";
      const fail = (err: Error) => reject(err);
      socket.once("error", fail);
      socket.once(ready, () => {
        socket.off("error", fail);
        socket.setNoDelay(true);
        resolve(new RawClient(socket));
      });
    });
  }

  private wake(): void {
    for (const w of this.wakers.splice(0)) w();
  }

  private waitForData(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      this.wakers.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** This end's port: with socket-owner.ts, tells which worker process accepted the connection. */
  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /**
   * Waits for one answer per method (or the close, or `timeoutMs`) and takes them off the
   * connection; fewer answers than methods means the connection closed or the time ran out.
   */
  async read(methods: readonly string[], timeoutMs = 3000): Promise<RawResponse[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { responses, used } = parseResponses(this.buffered, methods);
      if (responses.length === methods.length || this.closed || Date.now() >= deadline) {
        this.buffered = this.buffered.subarray(used);
        return responses;
      }
      await this.waitForData(deadline);
    }
  }

  /** Bytes received and not taken off by `read` (what no answer accounted for). */
  unread(): Buffer {
    return this.buffered;
  }

  /** Resolves true once the gateway closed the connection, false when `timeoutMs` passed first. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await this.waitForData(deadline);
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}
