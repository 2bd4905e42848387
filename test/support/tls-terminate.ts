// Real parts for the TLS termination tests: plain TCP backends that record what they receive
// (so a test sees the bytes arrive decrypted), and a node:tls client that reports the certificate
// the gateway presented (subject, SAN, serial) and the backend's answer.
import net from "node:net";
import tls from "node:tls";
import { closer, listenOnLoopback } from "../gateway/passthrough/harness.js";
import type { TestCa } from "./tls-certs.js";

export interface PlainBackend {
  label: string;
  port: number;
  /** Bytes received, per connection, as text. */
  received: string[];
  close(): Promise<void>;
}

/** A plain TCP server that greets with "<label>\n" and then echoes what it receives. */
export async function startPlainBackend(label: string): Promise<PlainBackend> {
  const received: string[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const index = received.push("") - 1;
    socket.on("error", () => undefined);
    socket.write(`${label}\n`);
    socket.on("data", (chunk: Buffer) => {
      received[index] += chunk.toString("latin1");
      socket.write(chunk);
    });
    socket.on("end", () => socket.end());
  });
  const port = await listenOnLoopback(server);
  return { label, port, received, close: closer(server) };
}

export type TerminateProbe =
  | { ok: true; subject: string; san: string; serial: string; protocol: string; banner: string; echo: string }
  | { ok: false; error: string };

export interface ProbeOptions {
  maxVersion?: tls.SecureVersion;
  /** Line sent once the handshake is done; the probe waits for its echo. */
  line?: string;
}

/**
 * A verifying node:tls client (chain against `ca`, host name against the certificate): sends one
 * line, reads the backend's greeting and the echo, then half-closes and waits for the end.
 */
export function terminateProbe(port: number, servername: string, ca: TestCa, options: ProbeOptions = {}): Promise<TerminateProbe> {
  const line = options.line ?? `ping ${servername}`;
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      ca: ca.certPem,
      servername,
      ...(options.maxVersion === undefined ? {} : { maxVersion: options.maxVersion }),
    });
    let received = "";
    let settled = false;
    const done = (result: TerminateProbe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, error: "probe timed out" }), 5000);
    socket.on("secureConnect", () => socket.end(`${line}\n`));
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    socket.on("end", () => {
      const [banner = "", echo = ""] = received.split("\n");
      const peer = socket.getPeerCertificate();
      done({
        ok: true,
        subject: String(peer.subject?.CN ?? ""),
        san: peer.subjectaltname ?? "",
        serial: peer.serialNumber ?? "",
        protocol: socket.getProtocol() ?? "",
        banner,
        echo,
      });
    });
    socket.on("error", (error) => done({ ok: false, error: error.message }));
    socket.on("close", () => done({ ok: false, error: "closed" }));
  });
}
