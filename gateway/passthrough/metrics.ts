// What a port's node:net front reports: TLS ports (TLSRoutes, Passthrough and Terminate), HTTPS
// ports shared with TLSRoutes, and PROXY-protocol ports of any protocol. The listener takes an
// implementation bound to its port, so the data plane can feed Prometheus and tests can record.

/** Why a connection was refused or broken. */
export type PassthroughErrorKind =
  | "no-route"
  | "not-tls"
  | "bad-server-name"
  | "hello-timeout"
  | "connect-failure"
  | "reset"
  | "idle-timeout"
  /** Terminate routes: the TLS handshake did not finish within the hello timeout. */
  | "handshake-timeout"
  /** Terminate routes: the client offered no TLS version the route accepts (1.2+, or the policy's). */
  | "handshake-version"
  /** Terminate routes: the client offered no cipher suite the route accepts. */
  | "handshake-cipher"
  /** Terminate routes: the client ended the handshake with an alert (most often: it does not
   * trust the certificate). */
  | "handshake-client-alert"
  /** Terminate routes: the bytes after the hello were not a TLS handshake. */
  | "handshake-malformed";

/** Why a port that expects a PROXY protocol header closed a connection before reading on. */
export type ProxyRejectReason =
  /** Something other than a PROXY v1 or v2 header came first. */
  | "bad-header"
  /** The peer is not among the port's trusted sources: closed before a byte is read. */
  | "untrusted-source"
  /** No complete header within the hello timeout. */
  | "timeout";

/**
 * Where a routed connection went: a TLSRoute, by its mode, or (hand-off) the port's own HTTP(S)
 * app, on a port shared with TLSRoutes or behind a PROXY-protocol front.
 */
export interface RoutedTo {
  /** "namespace/name" of the TLSRoute. */
  readonly route: string;
  readonly mode: "Passthrough" | "Terminate" | "hand-off";
}

export interface PassthroughMetrics {
  /** A connection was routed and its backend is being dialled. */
  connection(to: RoutedTo): void;
  /** Bytes relayed: "upstream" from client to backend, "downstream" back. Called per chunk. */
  bytes(to: RoutedTo, direction: "downstream" | "upstream", n: number): void;
  /** Why a connection was refused or broken (`to` undefined before it was routed); counted once
   * per connection. */
  error(to: RoutedTo | undefined, kind: PassthroughErrorKind): void;
  /** A PROXY-protocol port closed a connection; counted once per connection, never as an error too. */
  proxyRejected(reason: ProxyRejectReason): void;
  /** Accepted client connections still open. */
  active(delta: 1 | -1): void;
}
