// What every serving command (standalone, controller) registers and does alike: the build-info
// and Snapshot-version metrics, and closing the admin port.
import type { Server } from "node:http";
import { Gauge, type Registry } from "prom-client";
import { buildInfo } from "./version.js";

/** meshgate_build_info{version,node,uws} 1, registered once on `registry`. */
export function registerBuildInfo(registry: Registry): void {
  const build = buildInfo();
  new Gauge({
    name: "meshgate_build_info",
    help: "Always 1; the labels say which meshgate, Node.js and uWebSockets.js run.",
    labelNames: ["version", "node", "uws"] as const,
    registers: [registry],
  })
    .labels(build.version, build.node, build.uws)
    .set(1);
}

export function configVersionGauge(registry: Registry): Gauge {
  return new Gauge({ name: "meshgate_config_version", help: "Version of the Snapshot the data plane serves.", registers: [registry] });
}

/** Closes the admin port, cutting its open connections (a scrape in flight included). */
export function closeAdmin(admin: Server | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (admin === undefined) resolve();
    else admin.close(() => resolve());
    admin?.closeAllConnections();
  });
}
