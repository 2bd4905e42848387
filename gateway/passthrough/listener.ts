// A TCP listener for Gateway API listeners with protocol TLS and tls.mode Passthrough: routes
// each connection by its ClientHello's SNI name and pipes it, still encrypted, to a backend.
// Routing tables are swapped whole: a connection is routed with the table current when its
// ClientHello is complete, and keeps its backend whatever tables come after.
import net from "node:net";
import { AddressRanges, DEFAULT_TRUSTED_PROXY_CIDRS } from "../listener/cidr.js";
import { type ConnectionTimeouts, type FrontMode, PassthroughConnection } from "./connection.js";
import type { ClientAliases } from "./client-aliases.js";
import type { PassthroughMetrics } from "./metrics.js";
import { PassthroughTable } from "./routes.js";

export type { PassthroughErrorKind, PassthroughMetrics, ProxyRejectReason, RoutedTo } from "./metrics.js";

const DEFAULT_SOURCES = new AddressRanges(DEFAULT_TRUSTED_PROXY_CIDRS);

export interface PassthroughListenerOptions {
  address: string;
  port: number;
  /** Default 10 s. */
  helloTimeoutMs?: number;
  /** Default one hour. */
  idleTimeoutMs?: number;
  /** Default 5 s. */
  connectTimeoutMs?: number;
  /** Bound to this port: what it counts is labelled by port or by TLSRoute. */
  metrics: PassthroughMetrics;
  /** A shared port: hand-off connections to the terminating app carry the client this way. */
  aliases?: ClientAliases;
}

export class PassthroughListener {
  private readonly server: net.Server;
  private readonly timeouts: ConnectionTimeouts;
  private readonly connections = new Set<PassthroughConnection>();
  /** Until the first setRoutes every connection is refused as no-route. */
  private table = new PassthroughTable([]);
  private mode: FrontMode = { proxyProtocol: false, raw: false };

  constructor(private readonly options: PassthroughListenerOptions) {
    this.timeouts = {
      helloTimeoutMs: options.helloTimeoutMs ?? 10_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 3_600_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    };
    // allowHalfOpen: a client's FIN only ends the upstream direction; the relay decides when
    // to end the other one. noDelay: TLS records are forwarded as they come, not coalesced.
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
    // After listen(), errors here come from accept() (EMFILE and the like). The server keeps
    // listening and the client retries; without a listener the process would exit.
    this.server.on("error", () => undefined);
  }

  listen(): Promise<void> {
    const { address, port } = this.options;
    return new Promise((resolve, reject) => {
      const failed = (error: Error) =>
        reject(new Error(`cannot listen on ${address}:${port}: ${error.message}`, { cause: error }));
      this.server.once("error", failed);
      this.server.listen({ host: address, port }, () => {
        this.server.off("error", failed);
        resolve();
      });
    });
  }

  /** Connections routed from now on use `table`; piped ones keep their backend. */
  setRoutes(table: PassthroughTable): void {
    this.table = table;
  }

  /** How connections accepted from now on are read (PROXY header, plain HTTP behind). */
  setMode(mode: FrontMode): void {
    this.mode = mode;
  }

  /** Stops accepting at once, lets open connections run for `drainMs`, then cuts them.
   * Resolves when every client connection is closed. */
  async close(drainMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const cut = setTimeout(() => {
      for (const connection of this.connections) connection.destroy();
    }, drainMs);
    await closed;
    clearTimeout(cut);
  }

  private accept(socket: net.Socket): void {
    const { proxyProtocol, trustedSources = DEFAULT_SOURCES } = this.mode;
    // Only a trusted balancer may name the client; anyone else reaching the port directly could
    // name any address. Closed before a byte is read, so nothing it sends is ever parsed.
    if (proxyProtocol && !trustedSources.contains(socket.remoteAddress ?? "")) {
      this.options.metrics.proxyRejected("untrusted-source");
      socket.destroy();
      return;
    }
    const connection = new PassthroughConnection(
      socket,
      () => this.table,
      this.timeouts,
      this.options.metrics,
      () => this.connections.delete(connection),
      this.options.aliases,
      this.mode,
    );
    this.connections.add(connection);
  }
}
