// Every process the benchmark starts goes through one Supervisor, pinned to a core, so that all of
// them are stopped and reaped on success, on error and on SIGINT (unreaped children stay as zombies).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface Pinned {
  name: string;
  /** With `exec` all the way down, this is the pid of the program itself (for /proc/<pid>/status). */
  pid: number;
  exited: Promise<void>;
  /** undefined while running; otherwise how it ended, e.g. "exit code 1". */
  exitReason(): string | undefined;
  /** The end of what it printed on stdout and stderr. */
  logTail(lines?: number): string;
}

const STOP_GRACE_MS = 3000;
// Enough descriptors for HAProxy's maxconn and a few thousand connections; root may raise it.
const WANTED_FD_LIMIT = 65536;

export class Supervisor {
  private readonly live = new Set<ChildProcess>();
  private stopping = false;
  /** The open-files limit every child starts with (the shell raises it before exec when allowed). */
  readonly fdLimit: number;

  constructor(private readonly workDir: string) {
    this.fdLimit = childFdLimit();
  }

  /** A long-running program; stdout and stderr go to <workDir>/<name>.log. */
  start(name: string, core: number, cmd: string, args: string[], env = process.env): Pinned {
    const logFile = join(this.workDir, `${name}.log`);
    const fd = openSync(logFile, "a");
    let child: ChildProcess;
    try {
      child = this.spawnPinned(core, cmd, args, ["ignore", fd, fd], env);
    } finally {
      closeSync(fd);
    }
    let reason: string | undefined;
    const exited = new Promise<void>((resolve) => {
      child.once("exit", (code, signal) => {
        reason = signal === null ? `exit code ${code}` : `killed by ${signal}`;
        resolve();
      });
    });
    return {
      name,
      pid: child.pid ?? 0,
      exited,
      exitReason: () => reason,
      logTail: (lines = 20) => tail(logFile, lines),
    };
  }

  /** A program that ends by itself (wrk); killed if it overruns `timeoutMs`. */
  async runToEnd(
    core: number,
    cmd: string,
    args: string[],
    timeoutMs: number,
  ): Promise<{ output: string; reason: string }> {
    const child = this.spawnPinned(core, cmd, args, ["ignore", "pipe", "pipe"], process.env);
    let output = "";
    const collect = (d: Buffer) => {
      output += d.toString();
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    const reason = await new Promise<string>((resolve) => {
      child.once("close", (code, signal) =>
        resolve(signal === null ? `exit code ${code}` : `killed by ${signal}`),
      );
    });
    clearTimeout(timer);
    return { output, reason };
  }

  /** SIGTERM, then SIGKILL after a grace period; resolves once every child has been reaped. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.live].map(stopOne));
  }

  /** Last resort from a process 'exit' handler, where nothing asynchronous runs any more. */
  killAllNow(): void {
    this.stopping = true;
    for (const child of this.live) child.kill("SIGKILL");
  }

  private spawnPinned(
    core: number,
    cmd: string,
    args: string[],
    stdio: ["ignore", number | "pipe", number | "pipe"],
    env: NodeJS.ProcessEnv,
  ): ChildProcess {
    if (this.stopping) throw new Error("the benchmark is stopping");
    // sh raises the descriptor limit, then execs taskset, which execs the program: one pid throughout.
    const child = spawn(
      "/bin/sh",
      [
        "-c",
        'ulimit -n "$0" 2>/dev/null; exec taskset -c "$@"',
        String(this.fdLimit),
        String(core),
        cmd,
        ...args,
      ],
      { stdio, env },
    );
    this.live.add(child);
    child.once("exit", () => this.live.delete(child));
    // A failed spawn emits 'error' instead of 'exit'; without a listener it would crash the run.
    child.once("error", () => this.live.delete(child));
    return child;
  }
}

function stopOne(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

function childFdLimit(): number {
  const out = execFileSync("/bin/sh", ["-c", `ulimit -n ${WANTED_FD_LIMIT} 2>/dev/null; ulimit -n`])
    .toString()
    .trim();
  return out === "unlimited" ? WANTED_FD_LIMIT : Number(out);
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}
