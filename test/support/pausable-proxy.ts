// A TCP relay on loopback that a test can cut: every connection through it is closed and new
// ones are refused until it is resumed. Puts a controller out of touch with its API server
// without stopping the server (a network partition, as a watch sees it).
import { createServer, type Server, type Socket, connect } from "node:net";
import type { AddressInfo } from "node:net";

export interface PausableProxy {
  port: number;
  /** Closes every relayed connection; new connections are closed as they come. */
  cut(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startPausableProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<PausableProxy> {
  let cut = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    resume() {
      cut = false;
    },
    close() {
      cut = true;
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
