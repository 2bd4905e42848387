// A real nginx for tests: one foreground process (no master, no daemon), every file it writes in a
// temporary folder, started on a free loopback port and stopped by the test.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nginxMain } from "../bench/harness-configs.js";
import { freePort, waitFor } from "./net.js";

export const NGINX = "/usr/sbin/nginx";

export interface RunningNginx {
  port: number;
  /** What nginx printed, for failure messages. */
  output(): string;
  /** SIGTERM (nginx's fast shutdown), SIGKILL if it lingers; removes its folder. */
  stop(): Promise<void>;
}

/**
 * Starts nginx with `http` as the body of its http block; `http` receives the port it must
 * listen on (127.0.0.1). Resolves once the port accepts connections.
 */
export async function startNginx(http: (port: number) => string): Promise<RunningNginx> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "meshgate-nginx-"));
  const file = join(dir, "nginx.conf");
  writeFileSync(file, nginxMain(dir, http(port)));
  // -e: nginx opens its error log before it reads the config; keep that one out of /var/log too.
  const proc: ChildProcess = spawn(NGINX, ["-e", join(dir, "error.log"), "-p", dir, "-c", file], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const collect = (d: Buffer) => {
    out += d.toString();
  };
  proc.stdout?.on("data", collect);
  proc.stderr?.on("data", collect);
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`nginx exited with ${proc.exitCode}: ${out}`);
      return accepts(port);
    }, 10_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, output: () => out, stop };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
