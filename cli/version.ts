// meshgate's version, from its package.json, and the runtime it runs on: printed by
// `meshgate --version`, logged at start-up, in admin /status and in meshgate_build_info.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export interface BuildInfo {
  version: string;
  node: string;
  uws: string;
}

function packageVersion(path: string): string {
  const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
  const version = (parsed as { version?: unknown }).version;
  return typeof version === "string" ? version : "unknown";
}

let cached: BuildInfo | undefined;

/** Read once: the files do not change under a running process. */
export function buildInfo(): BuildInfo {
  if (cached !== undefined) return cached;
  // dist/cli/version.js -> the package root's package.json, as installed or in a checkout.
  const version = packageVersion(fileURLToPath(new URL("../../package.json", import.meta.url)));
  let uws = "unknown";
  try {
    // The uWebSockets.js dependency is an npm alias; its own package.json has the version.
    uws = packageVersion(createRequire(import.meta.url).resolve("uWebSockets.js/package.json"));
  } catch {
    // A package that hides its package.json from resolution: the version stays unknown.
  }
  cached = { version, node: process.versions.node, uws };
  return cached;
}

export function versionLine(info: BuildInfo = buildInfo()): string {
  return `meshgate ${info.version} (node ${info.node}, uWebSockets.js ${info.uws})`;
}
