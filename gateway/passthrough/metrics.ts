// What TLS passthrough and termination report. The listener takes an implementation, so the data
// plane can feed Prometheus and tests can record; route is "" until a connection has matched a route.

export type PassthroughErrorKind =
  | "no-route"
  | "not-tls"
  | "bad-server-name"
  | "hello-timeout"
  | "connect-failure"
  | "reset"
  | "idle-timeout"
  /** A port that expects a PROXY protocol header got something else. */
  | "bad-proxy-header"
  /** A port that expects a PROXY protocol header was reached by a peer not trusted to send one. */
  | "untrusted-proxy-source"
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

export interface PassthroughMetrics {
  /** A connection matched `route` and its backend is being dialled. */
  connection(route: string): void;
  /** Bytes relayed: "upstream" from client to backend, "downstream" back. Called per chunk. */
  bytes(route: string, direction: "downstream" | "upstream", n: number): void;
  /** Why a connection was refused or broken; counted once per connection. */
  error(route: string, kind: PassthroughErrorKind): void;
  /** Accepted client connections still open. */
  active(delta: 1 | -1): void;
}
