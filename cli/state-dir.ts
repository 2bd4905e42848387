// Where ACME account keys and certificates' private keys live: outside the configuration folder
// (often a git checkout), private to the owner. The default follows the XDG base directories,
// and /var/lib for root as system services keep state.
import { mkdirSync, realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";

export interface StateDirContext {
  env: Record<string, string | undefined>;
  /** undefined where the platform has no user ids (Windows). */
  uid: number | undefined;
  home: string;
}

export function currentContext(): StateDirContext {
  return { env: process.env, uid: process.getuid?.(), home: homedir() };
}

/** $XDG_STATE_HOME/meshgate when set (the spec ignores a relative one), else /var/lib/meshgate for root, else ~/.local/state/meshgate. */
export function defaultStateDir({ env, uid, home }: StateDirContext): string {
  const xdg = env["XDG_STATE_HOME"];
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, "meshgate");
  if (uid === 0) return "/var/lib/meshgate";
  return join(home, ".local", "state", "meshgate");
}

/** A state folder that cannot be used; the message says why (a usage error: exit 2). */
export class StateDirError extends Error {}

/** The path with symlinks resolved as far as it exists, so a link into the config folder is caught. */
function realish(path: string): string {
  const absolute = resolve(path);
  try {
    return realpathSync(absolute);
  } catch {
    const parent = dirname(absolute);
    return parent === absolute ? absolute : join(realish(parent), relative(parent, absolute));
  }
}

export function isInside(child: string, parent: string): boolean {
  const rel = relative(realish(parent), realish(child));
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/**
 * Refuses a state folder inside the config folder, creates it (mode 0700) when missing, and
 * returns a warning when it exists with group or other access: the account folders inside are
 * 0700 regardless, and a folder a package or systemd made 0755 is common, so it is not refused.
 */
export function prepareStateDir(stateDir: string, configDir: string): { warning?: string } {
  if (isInside(stateDir, configDir)) {
    throw new StateDirError(
      `--state-dir ${stateDir} is inside the config folder ${configDir}: private keys are never written there (it is often a git checkout); choose a folder outside it`,
    );
  }
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new StateDirError(`cannot create --state-dir ${stateDir}: ${(error as Error).message}`);
  }
  const stat = statSync(stateDir);
  if (!stat.isDirectory()) throw new StateDirError(`--state-dir ${stateDir} is not a folder`);
  const mode = stat.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    return {
      warning: `state folder ${stateDir} has mode ${mode.toString(8).padStart(4, "0")}: others can list it (the key folders inside stay private); chmod 700 it`,
    };
  }
  return {};
}
