// 421 Misdirected Request (RFC 9110 section 15.5.20): on an HTTPS port with several listeners,
// a client whose handshake chose one listener's certificate must not reach another listener's
// routes by naming it in Host. nginx and Envoy answer such a request 421 too; a browser that
// coalesced connections then opens a new one for that host.

/** A port's listeners by hostname, compiled once per Snapshot (the port's router is one). */
export interface ListenerHostnames {
  /** The hostname of the most specific listener serving `host` ("*": one without a hostname),
   * or undefined when none does. */
  listenerHostname(host: string): string | undefined;
}

/**
 * Whether a request is misdirected. `serverName` is the listener hostname the handshake's SNI
 * chose (exact or "*." pattern); `host` is the request's Host, lower-case and without its port.
 * A Host no listener serves is not misdirected: routing answers it 404 as on any other connection.
 */
export function isMisdirected(serverName: string, host: string, listeners: ListenerHostnames): boolean {
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  const chosen = listeners.listenerHostname(name);
  return chosen !== undefined && chosen !== serverName.toLowerCase();
}
