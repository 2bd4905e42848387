// Ports are owned, not shared by accident. Data-plane workers listen with SO_REUSEPORT so that
// they share a port among themselves, but that would equally let a second meshgate (or any
// program using SO_REUSEPORT) bind beside the first and split its traffic without a word. So
// before a port is first handed to the workers, the host binds it once itself, without
// SO_REUSEPORT: that bind fails when any other socket holds the port, and such a port is refused
// with the reason instead of being served.
import net from "node:net";
import type { ApplyResult } from "../data-plane.js";
import type { PortConfig, Snapshot } from "../snapshot.js";

type PortError = ApplyResult["portErrors"][number];

const keyOf = (p: Pick<PortConfig, "address" | "port">): string => `${p.address}:${p.port}`;

export class PortClaims {
  /** Ports the workers serve now: already ours, so not probed again. */
  private held = new Set<string>();

  /** The Snapshot without the ports another process holds, and why each was left out. */
  async admit(snapshot: Snapshot): Promise<{ snapshot: Snapshot; refused: PortError[] }> {
    const refused: PortError[] = [];
    const ports: PortConfig[] = [];
    for (const config of snapshot.ports) {
      const error = this.held.has(keyOf(config)) ? undefined : await probe(config.address, config.port);
      if (error === undefined) ports.push(config);
      else refused.push({ port: config.port, message: error });
    }
    return { snapshot: refused.length === 0 ? snapshot : { ...snapshot, ports }, refused };
  }

  /** After an apply: the ports now served are the applied ones that bound. */
  served(snapshot: Snapshot, errors: readonly PortError[]): void {
    const failed = new Set(errors.map((e) => e.port));
    this.held = new Set(snapshot.ports.filter((p) => !failed.has(p.port)).map(keyOf));
  }
}

/** Undefined when the port is free; otherwise why it cannot be had. */
export function probe(address: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", (error: NodeJS.ErrnoException) => {
      resolve(
        error.code === "EADDRINUSE"
          ? `port ${port} on ${address} is already in use by another process`
          : `cannot listen on ${address}:${port}: ${error.code ?? error.message}`,
      );
    });
    // exclusive: a probe made inside a cluster worker must bind for itself, not through the primary.
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}
