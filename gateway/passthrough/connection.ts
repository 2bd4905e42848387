// One client connection through a TLS port's SNI front: read until the ClientHello shows its SNI
// name and pick a route and backend. A Passthrough route connects, replays the bytes read so far,
// then relays both ways untouched: the gateway holds no key, the client's TLS session ends at the
// backend. A Terminate route hands the bytes read back to the socket, ends TLS here with the
// route's context, then connects and relays the decrypted stream.
//
// Phases: hello -> [handshake ->] connecting -> piped, or -> done from any of them when refused
// or broken.
import net from "node:net";
import tls from "node:tls";
import type { AddressRanges } from "../listener/cidr.js";
import { parseProxyHeader } from "../listener/proxy-protocol.js";
import { type PeekResult, peekClientHello } from "../tls/client-hello.js";
import type { ClientAliases } from "./client-aliases.js";
import type { PassthroughErrorKind, PassthroughMetrics, ProxyRejectReason, RoutedTo } from "./metrics.js";
import type { PassthroughBackend, PassthroughTable } from "./routes.js";

/** How a port's front reads a new connection, fixed when it is accepted. */
export interface FrontMode {
  /** A PROXY protocol header (v1 or v2) comes first and names the client. */
  proxyProtocol: boolean;
  /** With proxyProtocol, the peers allowed to send it (default: listener/cidr.ts's); others
   * are closed on accept. */
  trustedSources?: AddressRanges;
  /** Plain HTTP behind the front: no ClientHello to peek, every connection is handed off. */
  raw: boolean;
}

export interface ConnectionTimeouts {
  /** Deadline for a complete ClientHello, so a client trickling bytes cannot hold a socket. */
  helloTimeoutMs: number;
  /** No bytes either way for this long closes a piped connection. */
  idleTimeoutMs: number;
  connectTimeoutMs: number;
}

/** Fatal unrecognized_name (112): the client then reports why, instead of a bare reset. */
const UNRECOGNIZED_NAME_ALERT = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70]);
/** How long a refused client gets to read the alert and hang up before it is cut off. */
const ALERT_LINGER_MS = 1_000;

type Phase = "hello" | "handshake" | "connecting" | "piped" | "done";

export class PassthroughConnection {
  private phase: Phase = "hello";
  private expectProxy: boolean;
  /** From the PROXY header, when the port expects one. */
  private clientAddress: string | undefined;
  /** Undefined until the hello chose a route. */
  private routed: RoutedTo | undefined;
  private backend: net.Socket | undefined;
  /** What the backend is relayed with: the client, or the TLS session over it once terminated. */
  private downstream: net.Socket;
  private readonly hello = new HelloBytes();
  private readonly helloTimer: NodeJS.Timeout;

  constructor(
    private readonly client: net.Socket,
    /** Read when the hello is in, so a connection accepted just before setRoutes still gets
     * the new table. */
    private readonly currentTable: () => PassthroughTable,
    private readonly timeouts: ConnectionTimeouts,
    private readonly metrics: PassthroughMetrics,
    onClosed: () => void,
    private readonly aliases?: ClientAliases,
    private readonly mode: FrontMode = { proxyProtocol: false, raw: false },
  ) {
    this.expectProxy = mode.proxyProtocol;
    this.downstream = client;
    metrics.active(1);
    client.on("data", this.onHelloData);
    client.on("end", this.onHelloEnd);
    client.on("error", () => this.fail("reset"));
    client.once("close", () => {
      clearTimeout(this.helloTimer);
      // Once piped, the backend finishes its half on its own; before that it has no client.
      if (this.phase !== "piped") this.backend?.destroy();
      metrics.active(-1);
      onClosed();
    });
    // One deadline for the PROXY header, the hello and, on a Terminate route, the handshake after it.
    this.helloTimer = setTimeout(() => {
      if (this.expectProxy) this.rejectProxy("timeout");
      else this.fail(this.phase === "handshake" ? "handshake-timeout" : "hello-timeout");
    }, timeouts.helloTimeoutMs);
  }

  /** Cuts both sides without counting an error: the listener is shutting down. */
  destroy(): void {
    this.phase = "done";
    this.downstream.destroy();
    this.client.destroy();
    this.backend?.destroy();
  }

  private readonly onHelloData = (chunk: Buffer): void => {
    if (this.phase !== "hello") return;
    let bytes = this.hello.append(chunk);
    if (this.expectProxy) {
      const header = parseProxyHeader(bytes);
      if (header.kind === "need-more") return;
      if (header.kind === "invalid") return this.rejectProxy("bad-header");
      this.expectProxy = false;
      // LOCAL (a balancer's health check) and address-less headers keep the socket's peer.
      if (header.command === "proxy" && header.source !== undefined) this.clientAddress = header.source.address;
      bytes = this.hello.dropFront(header.headerLength);
    }
    if (this.mode.raw) return this.connect(undefined);
    if (bytes.length === 0) return;
    const result = peek(bytes);
    if (result.kind === "not-tls") this.fail("not-tls");
    else if (result.kind === "bad-server-name") this.refuse("bad-server-name");
    else if (result.kind === "hello") this.connect(result.serverName);
  };

  /** The client finished sending before its hello was complete: it can never send one. */
  private readonly onHelloEnd = (): void => {
    if (this.phase === "hello") this.fail("reset");
  };

  private connect(serverName: string | undefined): void {
    const match = this.currentTable().match(serverName);
    if (match === undefined) return this.refuse("no-route");
    this.stopPeeking();
    const mode = match.backend.handOff === true ? "hand-off" : match.route.terminate === undefined ? "Passthrough" : "Terminate";
    const routed: RoutedTo = { route: match.route.name, mode };
    this.routed = routed;
    this.metrics.connection(routed);
    if (match.route.terminate === undefined) this.dial(match.backend, routed);
    else this.terminate(match.route.terminate, match.backend, routed);
  }

  /** Ends the client's TLS here; the backend is dialled once the handshake is done, so a client
   * that fails it never reaches a backend. */
  private terminate(context: tls.SecureContext, backend: PassthroughBackend, routed: RoutedTo): void {
    this.phase = "handshake";
    const { client } = this;
    // The hello was read to choose the route; the TLS session reads it again from the socket.
    client.unshift(this.hello.take());
    const secure = new tls.TLSSocket(client, { isServer: true, secureContext: context });
    // The client may finish sending while the backend still answers, as on a passthrough pipe.
    secure.allowHalfOpen = true;
    this.downstream = secure;
    secure.on("error", (error) => this.fail(this.phase === "handshake" ? handshakeFailure(error) : "reset"));
    secure.on("end", () => {
      if (this.phase === "handshake") this.fail("reset");
    });
    secure.once("secure", () => {
      if (this.phase !== "handshake") return;
      secure.pause(); // decrypted bytes wait in the session until the backend is connected
      this.dial(backend, routed);
    });
  }

  /** Connects to the backend; the relay starts once it is connected. */
  private dial(target: PassthroughBackend, routed: RoutedTo): void {
    clearTimeout(this.helloTimer);
    this.phase = "connecting";
    let backend: net.Socket;
    let alias: string | undefined;
    try {
      if (target.handOff && this.aliases !== undefined) {
        const aliases = this.aliases;
        const held = aliases.acquire(this.clientAddress ?? this.client.remoteAddress ?? "");
        alias = held;
        this.client.once("close", () => aliases.release(held));
      }
      // allowHalfOpen: a backend's FIN must not end the client's direction before it is done.
      backend = net.connect({
        host: target.address,
        port: target.port,
        allowHalfOpen: true,
        ...(alias === undefined ? {} : { localAddress: alias }),
      });
    } catch {
      return this.fail("connect-failure"); // a port out of range throws rather than emitting
    }
    this.backend = backend;
    backend.setNoDelay(true);
    backend.setTimeout(this.timeouts.connectTimeoutMs);
    backend.on("timeout", () => this.fail(this.phase === "connecting" ? "connect-failure" : "idle-timeout"));
    backend.on("error", () => this.fail(this.phase === "connecting" ? "connect-failure" : "reset"));
    backend.once("connect", () => this.pipe(backend, routed));
  }

  private pipe(backend: net.Socket, route: RoutedTo): void {
    if (this.phase !== "connecting") return;
    this.phase = "piped";
    const { downstream: client, metrics } = this;
    // Either socket's timer is reset by reads and writes, so traffic in one direction keeps
    // both alive and only a connection silent both ways times out.
    backend.setTimeout(this.timeouts.idleTimeoutMs);
    client.setTimeout(this.timeouts.idleTimeoutMs);
    client.on("timeout", () => this.fail("idle-timeout"));
    relay(client, backend, (n) => metrics.bytes(route, "upstream", n));
    relay(backend, client, (n) => metrics.bytes(route, "downstream", n));
    // Passthrough replays the hello; a terminated session has handed its hello to TLS already.
    const hello = this.hello.take();
    if (hello.length > 0) metrics.bytes(route, "upstream", hello.length);
    // The client stays paused until the backend can take more; its 'drain' resumes it.
    if (hello.length === 0 || backend.write(hello)) client.resume();
    // net emits 'end' even on a paused socket, so a FIN that came while connecting is
    // already past; the relay's 'end' handler would never see it.
    if (client.readableEnded) backend.end();
  }

  private stopPeeking(): void {
    this.client.off("data", this.onHelloData);
    this.client.off("end", this.onHelloEnd);
    // Bytes after the hello wait in the socket until the backend is connected.
    this.client.pause();
  }

  /** Refuses a client that does speak TLS: alert, then close once it has had time to read it. */
  private refuse(kind: PassthroughErrorKind): void {
    this.stopPeeking();
    clearTimeout(this.helloTimer);
    this.phase = "done";
    this.metrics.error(this.routed, kind);
    const { client } = this;
    client.end(UNRECOGNIZED_NAME_ALERT);
    client.resume(); // with no 'data' listener left, whatever else it sends is dropped
    // A deadline, not an idle timer: a client that keeps sending would reset an idle timer.
    const linger = setTimeout(() => client.destroy(), ALERT_LINGER_MS);
    client.once("close", () => clearTimeout(linger));
  }

  /** Counts the first failure only: one broken connection is one error, whatever follows. */
  private fail(kind: PassthroughErrorKind): void {
    if (this.close()) this.metrics.error(this.routed, kind);
  }

  /** A port expecting a PROXY header did not get one: counted as such, not as an error. */
  private rejectProxy(reason: ProxyRejectReason): void {
    if (this.close()) this.metrics.proxyRejected(reason);
  }

  /** Cuts every socket; false when the connection was already done. */
  private close(): boolean {
    if (this.phase === "done") return false;
    this.phase = "done";
    clearTimeout(this.helloTimer);
    this.downstream.destroy();
    this.client.destroy();
    this.backend?.destroy();
    return true;
  }
}

/**
 * Why a terminated handshake failed, in words an operator can act on. OpenSSL's error codes
 * (node:tls puts them in `code`) tell who gave up: the gateway, finding no common version or
 * suite; the client, with an alert (usually it does not trust the certificate); or neither, when
 * the bytes were not TLS.
 */
export function handshakeFailure(error: Error & { code?: string }): PassthroughErrorKind {
  const code = error.code ?? "";
  if (code === "ERR_SSL_UNSUPPORTED_PROTOCOL" || code === "ERR_SSL_VERSION_TOO_LOW" || code === "ERR_SSL_NO_PROTOCOLS_AVAILABLE")
    return "handshake-version";
  if (code === "ERR_SSL_NO_SHARED_CIPHER") return "handshake-cipher";
  if (/^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/.test(code)) return "handshake-client-alert";
  if (code.startsWith("ERR_SSL_")) return "handshake-malformed";
  return "reset";
}

/** Copies `from` into `to`, pausing `from` while `to` has a full write buffer, so a slow reader
 * on either side leaves about one high-water mark of data here instead of the whole stream. */
function relay(from: net.Socket, to: net.Socket, counted: (n: number) => void): void {
  from.on("data", (chunk: Buffer) => {
    counted(chunk.length);
    if (!to.write(chunk)) from.pause();
  });
  to.on("drain", () => from.resume());
  // Half-close: the other side may still answer after this one has finished sending.
  from.on("end", () => to.end());
}

/** The peeker promises never to throw; a bug there must still not take the process down. */
function peek(bytes: Buffer): PeekResult {
  try {
    return peekClientHello(bytes);
  } catch (error) {
    return { kind: "not-tls", reason: String(error) };
  }
}

/**
 * Bytes read before the hello is complete. The usual hello arrives in one read and is kept
 * without a copy; a hello trickled in many reads grows by doubling, so copying stays linear.
 * Bounded because the peeker answers by DEFAULT_MAX_HELLO_BYTES plus record headers.
 */
class HelloBytes {
  private storage: Buffer = Buffer.alloc(0);
  private length = 0;

  append(chunk: Buffer): Buffer {
    const needed = this.length + chunk.length;
    if (this.length === 0) {
      this.storage = chunk; // net gives each read its own buffer, so keeping it is safe
    } else {
      if (needed > this.storage.length) {
        const grown = Buffer.allocUnsafe(Math.max(needed, this.storage.length * 2));
        this.storage.copy(grown, 0, 0, this.length);
        this.storage = grown;
      }
      chunk.copy(this.storage, this.length);
    }
    this.length = needed;
    return this.storage.subarray(0, needed);
  }

  /** Forgets the first `n` bytes (a PROXY header); returns what is left. */
  dropFront(n: number): Buffer {
    const rest = Buffer.from(this.storage.subarray(n, this.length));
    this.storage = rest;
    this.length = rest.length;
    return rest;
  }

  /** Everything read so far; the buffer is released, it is not needed again. */
  take(): Buffer {
    const bytes = this.storage.subarray(0, this.length);
    this.storage = Buffer.alloc(0);
    this.length = 0;
    return bytes;
  }
}
