// Starts data-plane-child.ts: a DataPlane in its own process, so a test can tell a crash (the
// process exits, with its signal and last output) from a refusal, and measure its memory alone.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { SnapshotInput } from "../../gateway/snapshot.js";
import type { ChildReply, ChildRequest, Memory } from "./data-plane-child.js";

export interface DataPlaneProcess {
  pid: number;
  /** Undefined while the process runs; how it ended otherwise. */
  exited(): string | undefined;
  /** stdout and stderr so far. */
  output(): string;
  memory(): Promise<Memory>;
  stop(): Promise<void>;
}

export async function startDataPlaneChild(snapshot: SnapshotInput): Promise<DataPlaneProcess> {
  const child = fork(fileURLToPath(new URL("./data-plane-child.js", import.meta.url)), [], {
    execArgv: ["--expose-gc"],
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  let exit: string | undefined;
  const gone = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exit = `exited with code ${code} signal ${signal}`;
      resolve();
    }),
  );
  const ask = (request: ChildRequest): Promise<ChildReply> =>
    new Promise((resolve, reject) => {
      if (exit !== undefined) return reject(new Error(`the data plane ${exit}: ${output}`));
      const onExit = () => reject(new Error(`the data plane ${exit}: ${output}`));
      child.once("exit", onExit);
      child.once("message", (message: ChildReply) => {
        child.off("exit", onExit);
        resolve(message);
      });
      child.send(request);
    });
  const applied = await ask({ kind: "apply", snapshot });
  if (applied.kind !== "applied" || applied.portErrors.length > 0) {
    child.kill("SIGKILL");
    throw new Error(`the data plane did not start: ${JSON.stringify(applied)}`);
  }
  return {
    pid: child.pid ?? -1,
    exited: () => exit,
    output: () => output,
    memory: async () => {
      const reply = await ask({ kind: "memory" });
      if (reply.kind !== "memory") throw new Error(JSON.stringify(reply));
      return { rss: reply.rss, heapUsed: reply.heapUsed };
    },
    stop: async () => {
      if (exit !== undefined) return;
      child.send({ kind: "stop" } satisfies ChildRequest);
      const killer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await gone;
      clearTimeout(killer);
    },
  };
}
