// What TLS passthrough reports. The listener takes an implementation, so the data plane can
// feed Prometheus and tests can record; route is "" until a connection has matched a route.

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
  | "untrusted-proxy-source";

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
