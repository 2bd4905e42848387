// The --config folder as every command reads it: one that does not exist is a usage error
// with its name (not a raw ENOENT from scandir), and a folder with nothing of the Gateway API
// in it is said so rather than shown as empty tables.
import { statSync } from "node:fs";
import { GATEWAY_GROUP, type Resource } from "../controller/resources/index.js";
import type { LoadError } from "../controller/resources/index.js";

/** A config folder that cannot be read at all; exit 2. */
export class ConfigFolderError extends Error {}

export function checkConfigFolder(dir: string): void {
  let isFolder: boolean;
  try {
    isFolder = statSync(dir).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new ConfigFolderError(`config folder ${dir} does not exist`);
    throw new ConfigFolderError(`config folder ${dir} cannot be read: ${(error as Error).message}`);
  }
  if (!isFolder) throw new ConfigFolderError(`config folder ${dir} is not a folder`);
}

/** Nothing of group gateway.networking.k8s.io loaded and nothing refused: a wrong folder, most likely. */
export function holdsNoGatewayApi(resources: readonly Resource[], errors: readonly LoadError[]): boolean {
  return errors.length === 0 && !resources.some((r) => r.apiVersion.startsWith(`${GATEWAY_GROUP}/`));
}

export function emptyFolderMessage(dir: string): string {
  return `no Gateway API objects in ${dir}`;
}
