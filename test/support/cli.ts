// Runs the real `meshgate` command line (node dist/cli.js) to its exit: code, stdout, stderr.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../cli.js", import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `env` is added to this process's environment; a variable set to undefined is removed. */
export function runCli(args: readonly string[], env: Record<string, string | undefined> = {}, timeoutMs = 20_000): Promise<CliRun> {
  const merged: Record<string, string | undefined> = { ...process.env, ...env };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"], env: merged, timeout: timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * `meshgate status` on the files alone (no running gateway asked): its stdout. Exit 1 (something
 * refused) is an answer too; anything else fails.
 */
export async function filesStatus(configDir: string, extra: readonly string[] = []): Promise<string> {
  const run = await runCli(["status", "--config", configDir, "--no-live", ...extra]);
  if (run.code !== 0 && run.code !== 1) throw new Error(`meshgate status exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}

/** A folder to stand for XDG_STATE_HOME, so a gateway's default state folder is never the real one. */
export function tempStateHome(): string {
  return mkdtempSync(join(tmpdir(), "meshgate-state-home-"));
}
