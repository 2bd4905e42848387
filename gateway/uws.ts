// Loads the native uWebSockets.js addon directly. The package's own entry point silently falls
// back to a slow JavaScript implementation when the binary does not load (PERF-NOTES.md); a
// gateway that quietly runs at a fraction of its speed is worse than one that refuses to start.

import type * as UwsTypes from "uWebSockets.js";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

function loadNative(): typeof UwsTypes {
  const packageDir = dirname(require.resolve("uWebSockets.js/package.json"));
  const binary = join(
    packageDir,
    "binaries",
    `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`,
  );
  try {
    return require(binary) as typeof UwsTypes;
  } catch (err) {
    throw new Error(
      `uWebSockets.js native addon failed to load from ${binary} (Node ABI ${process.versions.modules}): ` +
        `${(err as Error).message}. meshgate refuses to run on the slow fallback.`,
    );
  }
}

export const uws = loadNative();
export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket } from "uWebSockets.js";
