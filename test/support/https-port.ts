// HTTPS ports for data-plane tests, shaped as translation makes them: one listener and SNI
// name per hostname (each with its certificate and optional TLS policy), and a catch-all
// listener whose certificate is the fallback. Plus a TLS client that reports what it got.
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from "node:tls";
import type { PortInput, TlsPolicyInput } from "../../gateway/snapshot.js";
import type { TestLeaf } from "./tls-certs.js";
import { simplePort } from "./snapshot.js";

export interface NamedListener {
  /** The listener's hostname; undefined: the catch-all listener, whose certificate is the fallback. */
  hostname: string | undefined;
  leaf: TestLeaf;
  policy?: TlsPolicyInput;
}

/** Every listener routes "/" to cluster "c". */
export function httpsPortOf(port: number, listeners: NamedListener[], extra: Partial<PortInput> = {}): PortInput {
  const plain = simplePort(port, [{ backends: [{ cluster: "c" }] }]);
  const template = plain.listeners[0]!;
  const id = (l: NamedListener) => `default/${l.hostname ?? "fallback"}`;
  const catchAll = listeners.find((l) => l.hostname === undefined);
  return {
    ...plain,
    protocol: "HTTPS",
    listeners: listeners.map((l) =>
      l.hostname === undefined
        ? template
        : { ...template, name: `default/gw/${l.hostname}`, hostname: l.hostname },
    ),
    tls: {
      certificates: listeners.map((l) => ({ name: id(l), certPem: l.leaf.chainPem, keyPem: l.leaf.keyPem })),
      serverNames: listeners
        .filter((l) => l.hostname !== undefined)
        .map((l) => ({ hostname: l.hostname!, certificate: id(l), ...(l.policy === undefined ? {} : { policy: l.policy }) })),
      ...(catchAll === undefined
        ? {}
        : { fallback: id(catchAll), ...(catchAll.policy === undefined ? {} : { fallbackPolicy: catchAll.policy }) }),
    },
    ...extra,
  };
}

export interface Handshake {
  ok: boolean;
  socket?: TLSSocket;
  /** Subject CN of the certificate shown, when the handshake completed. */
  subject?: string;
  protocol?: string | null;
  cipher?: string;
  error?: string;
}

/**
 * A TLS handshake with 127.0.0.1:`port`; never rejects. `proxyHeader` is written on the TCP
 * connection first (a PROXY-protocol port). The socket is kept open when `keep` is set.
 */
export function handshake(
  port: number,
  options: ConnectionOptions & { proxyHeader?: string; keep?: boolean },
): Promise<Handshake> {
  const { proxyHeader, keep, ...tlsOptions } = options;
  return new Promise((resolve) => {
    let tcp: Socket | undefined;
    if (proxyHeader !== undefined) {
      tcp = netConnect({ host: "127.0.0.1", port });
      tcp.write(proxyHeader);
    }
    const socket = tlsConnect({
      host: "127.0.0.1",
      port,
      checkServerIdentity: () => undefined,
      rejectUnauthorized: false,
      ...tlsOptions,
      ...(tcp === undefined ? {} : { socket: tcp }),
    });
    socket.once("secureConnect", () => {
      const result: Handshake = {
        ok: true,
        subject: String(socket.getPeerCertificate().subject?.CN),
        protocol: socket.getProtocol(),
        cipher: socket.getCipher().name,
      };
      if (keep === true) resolve({ ...result, socket });
      else {
        socket.destroy();
        resolve(result);
      }
    });
    socket.once("error", (error) => resolve({ ok: false, error: error.message }));
    socket.once("close", () => resolve({ ok: false, error: "closed during the handshake" }));
  });
}

/** One request on an open TLS socket; resolves with the status line and body. */
export function request(socket: TLSSocket, host: string, path = "/x"): Promise<{ status: string; body: string }> {
  return new Promise((resolve, reject) => {
    let data = "";
    const onData = (chunk: Buffer) => {
      data += chunk.toString("latin1");
      const headEnd = data.indexOf("\r\n\r\n");
      if (headEnd < 0) return;
      const length = /content-length: (\d+)/i.exec(data.slice(0, headEnd));
      const complete = length === null ? data.endsWith("\r\n0\r\n\r\n") : data.length >= headEnd + 4 + Number(length[1]);
      if (!complete) return;
      socket.off("data", onData);
      resolve({ status: data.slice(0, data.indexOf("\r\n")), body: data.slice(headEnd + 4) });
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.write(`GET ${path} HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
  });
}
