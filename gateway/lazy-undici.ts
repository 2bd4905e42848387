// undici, loaded on first use. Importing it costs about 20 MB of resident memory, and the data
// plane needs it only for WebSocket upstreams and for MESHGATE_UPSTREAM_CLIENT=undici; plain
// HTTP goes through meshgate's own pool (upstream/h1/).
import { createRequire } from "node:module";

type Undici = typeof import("undici");

const require = createRequire(import.meta.url);
let loaded: Undici | undefined;

export function undici(): Undici {
  loaded ??= require("undici") as Undici;
  return loaded;
}
