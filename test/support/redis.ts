// Starts a real redis-server on a free loopback port, as described in
// /work/shared/TESTING-NOTES.md. The process is stopped by PID and reaped, also when the test
// fails, through t.teardown. kill() + restart() simulate an outage on the same port.
import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { freePort, waitFor } from "./net.js";

export interface RedisServer {
  readonly port: number;
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

export async function startRedis(t: Teardown): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async () => {
    const started = spawn(
      "/usr/bin/redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    child = started;
    exited = new Promise((resolve) => started.once("exit", () => resolve()));
    let stderr = "";
    started.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      await waitFor(async () => started.exitCode === null && (await pingAnswers(port)), 5000, 50);
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
    pid: () => child?.pid,
    kill: () => signal("SIGKILL"),
    restart: async () => {
      await signal("SIGKILL");
      await launch();
    },
    stop: () => signal("SIGTERM"),
  };
}

/** One raw RESP PING on a fresh connection; true when +PONG comes back. */
function pingAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}
