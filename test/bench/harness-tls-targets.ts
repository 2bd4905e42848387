// The TLS benchmark's certificates and processes: nginx terminating TLS, HAProxy forwarding TCP,
// a node:tls origin for passthrough, and meshgate with HTTPS, TLS passthrough, or both on one
// port. Each is ready only once a verified TLS round trip through it works.
import { mkdirSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { connect } from "node:tls";
import { fileURLToPath } from "node:url";
import { freePort } from "../support/net.js";
import { makeCa } from "../support/tls-certs.js";
import { BODY_100, haproxyTcpConf, nginxProxyConf } from "./harness-configs.js";
import type { Pinned } from "./harness-procs.js";
import { BENCH_HOST, meshgateTlsConfig, PASS_HOST, WRK_LOOPBACK_LUA } from "./harness-tls-configs.js";
import {
  type BenchEnv,
  meshgateServing,
  spawnMeshgate,
  START_TIMEOUT_MS,
  startNginx,
} from "./harness-targets.js";
import { HAPROXY } from "./harness-tools.js";

const TLS_SOURCE = fileURLToPath(new URL("./tls-source.js", import.meta.url));

export interface PemFiles {
  chainPem: string;
  keyPem: string;
  chainFile: string;
  keyFile: string;
}

export interface TlsFiles {
  caPem: string;
  caFile: string;
  /** BENCH_HOST's ECDSA P-256 leaf: every terminating proxy serves this one. */
  bench: PemFiles;
  /** PASS_HOST's leaf, held by the TLS origin. */
  pass: PemFiles;
  /** WRK_LOOPBACK_LUA. */
  wrkScript: string;
}

/** A fresh CA and two ECDSA P-256 leaves, written under <workDir>/tls for nginx, HAProxy and wrk. */
export async function writeTlsFiles(workDir: string): Promise<TlsFiles> {
  const dir = join(workDir, "tls");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = await makeCa("meshgate bench CA");
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text, { mode: 0o600 });
    return file;
  };
  const leaf = async (host: string, base: string): Promise<PemFiles> => {
    const { chainPem, keyPem } = await ca.issue([host]);
    return { chainPem, keyPem, chainFile: write(`${base}.crt`, chainPem), keyFile: write(`${base}.key`, keyPem) };
  };
  return {
    caPem: ca.certPem,
    caFile: write("ca.crt", ca.certPem),
    bench: await leaf(BENCH_HOST, "bench"),
    pass: await leaf(PASS_HOST, "pass"),
    wrkScript: write("loopback.lua", WRK_LOOPBACK_LUA),
  };
}

export interface TlsTarget {
  /** Process name (log file <workDir>/<name>.log). */
  name: string;
  port: number;
  proc: Pinned;
  /** What the readiness probe negotiated, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384 X25519". */
  negotiated: string;
}

interface Negotiated {
  getProtocol(): string | null;
  getCipher(): { standardName?: string; name: string };
  getEphemeralKeyInfo(): { name?: string } | object | null;
}

function describeSession(socket: Negotiated): string {
  const key = socket.getEphemeralKeyInfo();
  const group = key !== null && "name" in key && typeof key.name === "string" ? ` ${key.name}` : "";
  const cipher = socket.getCipher();
  return `${socket.getProtocol() ?? "?"} ${cipher.standardName ?? cipher.name}${group}`;
}

/** GET `path` over a new verified TLS connection to 127.0.0.1:`port` with SNI and Host `servername`. */
export function httpsGet(
  port: number,
  servername: string,
  ca: string,
  path: string,
  timeoutMs = 2000,
): Promise<{ status: number; body: string; negotiated: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        servername,
        ca,
        agent: false,
        headers: { host: servername, connection: "close" },
        timeout: timeoutMs,
      },
      (res) => {
        const negotiated = describeSession(res.socket as unknown as Negotiated);
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, negotiated }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/** A verified TLS connection to 127.0.0.1:`port` for `servername` that receives at least one byte
 * from the TLS origin (which starts writing once the handshake is done). */
export function passthroughProbe(port: number, servername: string, ca: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername, ca });
    const timer = setTimeout(() => socket.destroy(new Error(`no data within ${timeoutMs} ms`)), timeoutMs);
    const done = (err?: Error) => {
      clearTimeout(timer);
      const negotiated = err === undefined ? describeSession(socket) : "";
      socket.destroy();
      if (err === undefined) resolve(negotiated);
      else reject(err);
    };
    socket.once("data", () => done());
    socket.once("error", (err) => done(err));
    socket.once("close", () => done(new Error("closed before any data")));
  });
}

/** Retries `attempt` every 100 ms until it resolves; fails early when `proc` exits. */
async function pollUntil<T>(proc: Pinned, what: string, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = "no answer";
  for (;;) {
    const ended = proc.exitReason();
    if (ended !== undefined) {
      const line = proc.logTail(1).trim();
      throw new Error(`${ended}${line === "" ? "" : `: ${line}`}`);
    }
    try {
      return await attempt();
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what} not within ${START_TIMEOUT_MS / 1000} s (${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Until the proxy hands back the origin's exact 100-byte answer over TLS for BENCH_HOST. */
function terminating(proc: Pinned, port: number, files: TlsFiles): Promise<string> {
  return pollUntil(proc, `GET https://${BENCH_HOST}:${port}/100 answering 200 with 100 bytes`, async () => {
    const res = await httpsGet(port, BENCH_HOST, files.caPem, "/100");
    if (res.status !== 200 || res.body.length !== BODY_100.length)
      throw new Error(`answered ${res.status} with ${res.body.length} bytes`);
    return res.negotiated;
  });
}

/** Until a TLS connection for PASS_HOST through `port` reaches the TLS origin. */
function passing(proc: Pinned, port: number, files: TlsFiles): Promise<string> {
  return pollUntil(proc, `TLS for ${PASS_HOST} through port ${port} to the TLS origin`, () =>
    passthroughProbe(port, PASS_HOST, files.caPem),
  );
}

export async function startTlsSource(env: BenchEnv, core: number, files: TlsFiles): Promise<TlsTarget> {
  const port = await freePort();
  const proc = env.sup.start("tls-source", core, process.execPath, [
    TLS_SOURCE,
    String(port),
    files.pass.chainFile,
    files.pass.keyFile,
  ]);
  const negotiated = await passing(proc, port, files);
  return { name: "tls-source", port, proc, negotiated };
}

export async function startNginxTls(
  env: BenchEnv,
  core: number,
  originPort: number,
  files: TlsFiles,
): Promise<TlsTarget> {
  const port = await freePort();
  const tls = { serverName: BENCH_HOST, chainFile: files.bench.chainFile, keyFile: files.bench.keyFile };
  const proc = await startNginx(env, "nginx-tls", core, (dir) => nginxProxyConf(dir, port, originPort, tls));
  const negotiated = await terminating(proc, port, files);
  return { name: "nginx-tls", port, proc, negotiated };
}

export async function startHaproxyTcp(
  env: BenchEnv,
  core: number,
  sourcePort: number,
  files: TlsFiles,
): Promise<TlsTarget> {
  const port = await freePort();
  const file = join(env.workDir, "haproxy-tcp.cfg");
  writeFileSync(file, haproxyTcpConf(port, sourcePort, env.sup.fdLimit));
  const proc = env.sup.start("haproxy-tcp", core, HAPROXY, ["-db", "-f", file]);
  const negotiated = await passing(proc, port, files);
  return { name: "haproxy-tcp", port, proc, negotiated };
}

export type MeshgateTlsKind = "https" | "passthrough" | "shared";

/**
 * meshgate with an HTTPS listener only ("https", the fast path straight to uWebSockets.js), a TLS
 * passthrough listener only ("passthrough"), or both on one port ("shared", where connections
 * are routed by their ClientHello first). "shared" is ready only when both paths work, so a port
 * that silently dropped its passthrough listener is not measured as the shared path.
 */
export async function startMeshgateTls(
  env: BenchEnv,
  kind: MeshgateTlsKind,
  core: number,
  ports: { origin: number; source: number },
  files: TlsFiles,
  nodeFlags: string[],
): Promise<TlsTarget> {
  const port = await freePort();
  const https = { port, originPort: ports.origin, chainPem: files.bench.chainPem, keyPem: files.bench.keyPem };
  const passthrough = { port, originPort: ports.source };
  const config = meshgateTlsConfig(
    kind === "https" ? { https } : kind === "passthrough" ? { passthrough } : { https, passthrough },
  );
  const name = `meshgate-${kind}`;
  const { proc, adminPort } = await spawnMeshgate(env, name, core, config, nodeFlags);
  let negotiated = "";
  await meshgateServing(proc, adminPort, async () => {
    if (kind !== "passthrough") negotiated = await terminating(proc, port, files);
    if (kind !== "https") {
      const passed = await passing(proc, port, files);
      if (kind === "passthrough") negotiated = passed;
    }
  });
  return { name, port, proc, negotiated };
}
