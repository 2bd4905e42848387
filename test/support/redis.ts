// Starts real redis-server processes on free loopback ports, as described in
// /work/shared/TESTING-NOTES.md: one server, a three-master Cluster, or a master watched by a
// Sentinel; any of them over TLS only (`tls-port`, with certificates from a test CA). Processes
// are stopped by PID and reaped, also when the test fails, through t.teardown; their temporary
// folders are removed after them. kill() + restart() simulate an outage on the same port.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, waitFor } from "./net.js";
import { makeCa } from "./tls-certs.js";

const REDIS_SERVER = "/usr/bin/redis-server";
const REDIS_CLI = "/usr/bin/redis-cli";
const run = promisify(execFile);
const CLUSTER_JOIN_MS = 30_000;

/** Files of a TLS-only Redis: its certificate and key, and the CA that signed it (for clients). */
export interface RedisTlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
  caPem: string;
}

/** How a client gets in: a password, TLS, both or neither. */
export interface RedisAccess {
  password?: string | undefined;
  tls?: RedisTlsFiles | undefined;
}

export interface RedisServer {
  readonly port: number;
  /** How clients get in, for redisCli. */
  readonly access: RedisAccess;
  /** PID of the current process, undefined while stopped. */
  pid(): number | undefined;
  /** SIGKILL, as in a crash; resolves once the process is reaped. */
  kill(): Promise<void>;
  /** Starts again on the same port and waits until PING answers. */
  restart(): Promise<void>;
  /** Stops the process (idempotent); the test's teardown calls it too. */
  stop(): Promise<void>;
}

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

export interface RedisOptions {
  /** Sets requirepass: clients must AUTH with this password. */
  password?: string;
  /** Serves TLS only, with these files (see redisTlsFiles). */
  tls?: RedisTlsFiles;
}

export async function startRedis(t: Teardown, options: RedisOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const auth = options.password === undefined ? [] : ["--requirepass", options.password];
  return startProcess(t, port, [...serverArgs(port, options.tls), ...auth], options);
}

/**
 * A test CA and a certificate it signed for 127.0.0.1 and localhost, as files in a folder
 * removed when the test ends. Clients need not show a certificate of their own; Cluster nodes
 * show theirs to each other on the cluster bus, so it is a client certificate too.
 */
export async function redisTlsFiles(t: Teardown): Promise<RedisTlsFiles> {
  const dir = temporaryFolder(t, "meshgate-redis-tls-");
  const ca = await makeCa("meshgate test Redis CA");
  const leaf = await ca.issue(["127.0.0.1", "localhost"], { client: true });
  const files = { certFile: join(dir, "redis.crt"), keyFile: join(dir, "redis.key"), caFile: join(dir, "ca.crt"), caPem: ca.certPem };
  writeFileSync(files.certFile, leaf.certPem);
  writeFileSync(files.keyFile, leaf.keyPem);
  writeFileSync(files.caFile, ca.certPem);
  return files;
}

export interface RedisCluster {
  /** The masters, each holding a third of the slots. */
  readonly nodes: readonly RedisServer[];
  readonly ports: readonly number[];
}

/**
 * Three masters with `cluster-enabled yes`, joined by `redis-cli --cluster create`,
 * cluster_state:ok. With `tls`, clients and the cluster bus use TLS only.
 */
export async function startRedisCluster(t: Teardown, options: Pick<RedisOptions, "tls"> = {}): Promise<RedisCluster> {
  const access = { tls: options.tls };
  const dir = temporaryFolder(t, "meshgate-redis-cluster-");
  const nodes: RedisServer[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    // The bus port defaults to port + 10000, which may be taken or above 65535: choose it too.
    const busPort = await freePort();
    nodes.push(
      await startProcess(t, port, [
        ...serverArgs(port, options.tls),
        ...(options.tls === undefined ? [] : ["--tls-cluster", "yes"]),
        "--dir",
        dir,
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        join(dir, `nodes-${port}.conf`),
        "--cluster-port",
        String(busPort),
      ], access),
    );
  }
  const ports = nodes.map((node) => node.port);
  // The join takes 2-4 s here when idle; under the full suite on two cores it has taken more
  // than 8 s, so the bound is generous and a timeout reports what each node sees.
  try {
    await run(REDIS_CLI, [...tlsArgs(access), "--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-yes"], {
      timeout: CLUSTER_JOIN_MS,
    });
  } catch (error) {
    const { stdout, stderr, killed } = error as { stdout?: string; stderr?: string; killed?: boolean };
    const why = killed === true ? `did not finish within ${CLUSTER_JOIN_MS / 1000} s` : "failed";
    const views = await Promise.all(
      ports.map((port) => redisCli(port, ["cluster", "nodes"], access).then((nodes) => `node ${port} sees:\n${nodes}`, (e: Error) => `node ${port}: ${e.message}`)),
    );
    throw new Error(`redis-cli --cluster create ${why}: ${stdout ?? ""} ${stderr ?? ""}\n${views.join("\n")}`, { cause: error });
  }
  await waitFor(async () => {
    const infos = await Promise.all(ports.map((port) => redisCli(port, ["cluster", "info"], access)));
    return infos.every((info) => info.includes("cluster_state:ok"));
  }, CLUSTER_JOIN_MS, 100);
  return { nodes, ports };
}

export interface RedisSentinel {
  readonly master: RedisServer;
  readonly sentinel: RedisServer;
  /** The name the Sentinel monitors the master under. */
  readonly name: string;
}

/** One master and one `redis-server --sentinel` monitoring it (quorum 1) as `mymaster`; with `tls`, both TLS only. */
export async function startRedisSentinel(t: Teardown, options: RedisOptions = {}): Promise<RedisSentinel> {
  const name = "mymaster";
  const master = await startRedis(t, options);
  const dir = temporaryFolder(t, "meshgate-redis-sentinel-");
  const port = await freePort();
  // Sentinel rewrites its configuration file as it learns, so it gets one of its own.
  const config = join(dir, "sentinel.conf");
  const tls = options.tls;
  const lines = [
    ...(tls === undefined
      ? [`port ${port}`]
      : [
          "port 0",
          `tls-port ${port}`,
          `tls-cert-file ${tls.certFile}`,
          `tls-key-file ${tls.keyFile}`,
          `tls-ca-cert-file ${tls.caFile}`,
          "tls-auth-clients no",
          // The Sentinel reaches the master over TLS too.
          "tls-replication yes",
        ]),
    "bind 127.0.0.1",
    `dir ${dir}`,
    `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
    ...(options.password === undefined ? [] : [`sentinel auth-pass ${name} ${options.password}`]),
  ];
  writeFileSync(config, lines.join("\n") + "\n");
  const sentinel = await startProcess(t, port, [config, "--sentinel"], { tls });
  await waitFor(async () => {
    const reply = await redisCli(port, ["sentinel", "get-master-addr-by-name", name], { tls });
    return reply.split("\n").map((line) => line.trim()).includes(String(master.port));
  }, 5000, 50);
  return { master, sentinel, name };
}

/** Runs one command with redis-cli against 127.0.0.1:port; resolves with its raw output. */
export async function redisCli(port: number, args: string[], access: RedisAccess = {}): Promise<string> {
  const auth = access.password === undefined ? [] : ["--no-auth-warning", "-a", access.password];
  const { stdout } = await run(REDIS_CLI, ["-h", "127.0.0.1", "-p", String(port), ...tlsArgs(access), ...auth, ...args], { timeout: 3000 });
  return stdout;
}

function tlsArgs(access: RedisAccess): string[] {
  return access.tls === undefined ? [] : ["--tls", "--cacert", access.tls.caFile];
}

/** With `tls`, the port serves TLS only: no plain-text port at all. */
function serverArgs(port: number, tls?: RedisTlsFiles): string[] {
  const listen =
    tls === undefined
      ? ["--port", String(port)]
      : ["--port", "0", "--tls-port", String(port), "--tls-cert-file", tls.certFile, "--tls-key-file", tls.keyFile, "--tls-ca-cert-file", tls.caFile, "--tls-auth-clients", "no"];
  return [...listen, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"];
}

/** A folder removed when the test ends, after the processes registered later are stopped. */
function temporaryFolder(t: Teardown, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startProcess(t: Teardown, port: number, args: string[], access: RedisAccess = {}): Promise<RedisServer> {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async () => {
    const started = spawn(REDIS_SERVER, args, { stdio: ["ignore", "ignore", "pipe"] });
    child = started;
    exited = new Promise((resolve) => started.once("exit", () => resolve()));
    let stderr = "";
    started.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      await waitFor(async () => started.exitCode === null && (await pingAnswers(port, access)), 5000, 50);
    } catch (error) {
      await signal("SIGKILL");
      throw new Error(`redis-server on port ${port} did not answer PING: ${stderr}`, { cause: error });
    }
  };

  const signal = async (name: NodeJS.Signals) => {
    const current = child;
    if (current === undefined) return;
    if (current.exitCode === null && current.signalCode === null) current.kill(name);
    await exited;
    child = undefined;
  };

  t.teardown(() => signal("SIGKILL"));
  await launch();
  return {
    port,
    access,
    pid: () => child?.pid,
    kill: () => signal("SIGKILL"),
    restart: async () => {
      await signal("SIGKILL");
      await launch();
    },
    stop: () => signal("SIGTERM"),
  };
}

/** One raw RESP PING (after AUTH, given a password) on a fresh connection; true when +PONG comes back. */
function pingAnswers(port: number, { password, tls }: RedisAccess): Promise<boolean> {
  return new Promise((resolve) => {
    const socket: Socket =
      tls === undefined ? connect({ host: "127.0.0.1", port }) : connectTls({ host: "127.0.0.1", port, ca: tls.caPem, servername: "localhost" });
    const expectedLines = password === undefined ? 1 : 2;
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on("error", () => done(false));
    socket.on(tls === undefined ? "connect" : "secureConnect", () => {
      const auth = password === undefined ? "" : `*2\r\n$4\r\nAUTH\r\n$${Buffer.byteLength(password)}\r\n${password}\r\n`;
      socket.write(`${auth}PING\r\n`);
    });
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      const lines = reply.split("\r\n");
      if (lines.length > expectedLines) done(lines[expectedLines - 1] === "+PONG");
    });
  });
}
