// Real parts for the passthrough tests: TLS backends with their own certificates, a gateway on
// loopback with recorded metrics, and clients (node:tls, openssl s_client) that report which
// certificate they were shown, which proves the gateway relayed TLS and did not terminate it.
import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { PassthroughListener, type PassthroughListenerOptions } from "../../../gateway/passthrough/listener.js";
import type {
  PassthroughErrorKind,
  PassthroughMetrics,
  ProxyRejectReason,
  RoutedTo,
} from "../../../gateway/passthrough/metrics.js";
import type { PassthroughBackend, PassthroughRoute } from "../../../gateway/passthrough/routes.js";
import { PassthroughTable } from "../../../gateway/passthrough/routes.js";
import { type TestCa } from "../../support/tls-certs.js";
import { freePort, waitFor } from "../../support/net.js";

export interface TlsBackend {
  label: string;
  port: number;
  /** Serial of the backend's own leaf certificate, upper-case hex as node:tls reports it. */
  serial: string;
  close(): Promise<void>;
}

/** A TLS server that greets with "<label>\n" and then echoes what it receives. */
export async function startTlsBackend(ca: TestCa, label: string, names: string[]): Promise<TlsBackend> {
  const leaf = await ca.issue(names, { commonName: label });
  const server = tls.createServer({ key: leaf.keyPem, cert: leaf.chainPem }, (socket) => {
    socket.on("error", () => undefined); // clients in these tests hang up abruptly on purpose
    socket.write(`${label}\n`);
    socket.pipe(socket);
  });
  const port = await listenOnLoopback(server);
  return {
    label,
    port,
    serial: new X509Certificate(leaf.certPem).serialNumber,
    close: closer(server),
  };
}

export function listenOnLoopback(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
  });
}

/** A function that closes `server` and cuts whatever is still connected to it. */
export function closer(server: net.Server): () => Promise<void> {
  const sockets = new Set<net.Socket>();
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  return () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
}

export const to = (backend: TlsBackend, weight = 1): PassthroughBackend => ({
  address: "127.0.0.1",
  port: backend.port,
  weight,
});

export const route = (name: string, hostnames: string[], ...backends: PassthroughBackend[]): PassthroughRoute => ({
  name,
  hostnames,
  backends,
});

/** Metrics kept in memory, for assertions; route "" is a connection not routed yet. */
export class RecordedMetrics implements PassthroughMetrics {
  readonly connections: string[] = [];
  /** The mode of each connection above, in the same order. */
  readonly modes: RoutedTo["mode"][] = [];
  readonly errors: Array<{ route: string; kind: PassthroughErrorKind }> = [];
  readonly proxyRejections: ProxyRejectReason[] = [];
  readonly bytesBy = { upstream: 0, downstream: 0 };
  open = 0;

  connection(to: RoutedTo): void {
    this.connections.push(to.route);
    this.modes.push(to.mode);
  }
  bytes(_to: RoutedTo, direction: "downstream" | "upstream", n: number): void {
    this.bytesBy[direction] += n;
  }
  error(to: RoutedTo | undefined, kind: PassthroughErrorKind): void {
    this.errors.push({ route: to?.route ?? "", kind });
  }
  proxyRejected(reason: ProxyRejectReason): void {
    this.proxyRejections.push(reason);
  }
  active(delta: 1 | -1): void {
    this.open += delta;
  }
  count(kind: PassthroughErrorKind): number {
    return this.errors.filter((e) => e.kind === kind).length;
  }
  /** The gateway may count an error a moment after the client saw the close. */
  async waitForError(kind: PassthroughErrorKind, times = 1): Promise<void> {
    await waitFor(() => this.count(kind) >= times, 5000);
  }
}

export interface Gateway {
  port: number;
  listener: PassthroughListener;
  metrics: RecordedMetrics;
}

export async function startGateway(
  routes: PassthroughRoute[],
  options: Partial<Omit<PassthroughListenerOptions, "metrics">> = {},
): Promise<Gateway> {
  const metrics = new RecordedMetrics();
  const port = await freePort();
  const listener = new PassthroughListener({ address: "127.0.0.1", port, metrics, ...options });
  await listener.listen();
  listener.setRoutes(new PassthroughTable(routes));
  return { port, listener, metrics };
}

export type Probe = { ok: true; serial: string; banner: string } | { ok: false; error: string };

/**
 * A node:tls client through the gateway: verifies the chain against the test CA (the host name
 * is not checked, since the certificate's serial is what the tests compare), reads the
 * backend's greeting, checks one echo, and hangs up.
 */
export function tlsProbe(port: number, servername: string | undefined, ca: TestCa): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      ca: ca.certPem,
      // Without a servername, node:tls sends no SNI for an IP address host.
      ...(servername === undefined ? {} : { servername }),
      checkServerIdentity: () => undefined,
    });
    let received = "";
    const done = (result: Probe) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, error: "probe timed out" }), 5000);
    socket.on("secureConnect", () => socket.write("ping\n"));
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString();
      const [banner, echo] = received.split("\n");
      if (banner !== undefined && echo === "ping") {
        done({ ok: true, serial: socket.getPeerCertificate().serialNumber, banner });
      }
    });
    socket.on("error", (error) => done({ ok: false, error: error.message }));
    socket.on("close", () => done({ ok: false, error: "closed" }));
  });
}

let caFile: Promise<string> | undefined;
let caFileFor: TestCa | undefined;

async function caFileOf(ca: TestCa): Promise<string> {
  if (caFile === undefined || caFileFor !== ca) {
    caFileFor = ca;
    caFile = mkdtemp(join(tmpdir(), "meshgate-passthrough-")).then(async (dir) => {
      const file = join(dir, "ca.pem");
      await writeFile(file, ca.certPem);
      return file;
    });
  }
  return caFile;
}

export interface OpensslResult {
  /** Serial of the first certificate s_client printed, when the handshake got that far. */
  serial: string | undefined;
  verified: boolean;
  output: string;
}

/** `openssl s_client` with stdin closed: it handshakes, prints the peer certificate, exits. */
export async function opensslProbe(port: number, servername: string | undefined, ca: TestCa): Promise<OpensslResult> {
  const nameArgs = servername === undefined ? ["-noservername"] : ["-servername", servername];
  const args = ["s_client", "-connect", `127.0.0.1:${port}`, ...nameArgs, "-CAfile", await caFileOf(ca)];
  const child = spawn("openssl", args, { stdio: ["pipe", "pipe", "pipe"], timeout: 10_000 });
  child.stdin.end();
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await new Promise((resolve) => child.once("close", resolve));
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(output)?.[0];
  return {
    serial: pem === undefined ? undefined : new X509Certificate(pem).serialNumber,
    verified: output.includes("Verify return code: 0 (ok)"),
    output,
  };
}

/** Resolves when the gateway closes a plain TCP connection; `send` goes first, if given. */
export function closedAfter(port: number, send?: Buffer): Promise<{ ms: number; received: Buffer }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    const socket = net.connect(port, "127.0.0.1", () => {
      if (send !== undefined) socket.write(send);
    });
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => undefined); // a reset is one of the ways to be closed
    socket.on("close", () => resolve({ ms: Date.now() - started, received: Buffer.concat(chunks) }));
    setTimeout(() => reject(new Error("gateway kept the connection open")), 10_000).unref();
  });
}
