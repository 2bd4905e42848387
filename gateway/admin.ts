// The admin port: metrics, health, readiness and status, apart from the traffic ports so it is
// never exposed where clients reach (Security: admin endpoints on a separate port).
import { createServer, type Server } from "node:http";

export interface AdminSources {
  metrics(): Promise<{ text: string; contentType: string }>;
  /**
   * Ready once the first Snapshot is applied and the gateway is not draining. Notes name what is
   * not served (a listener whose port could not be bound) without taking the rest out of rotation.
   */
  ready(): { ready: boolean; notes: string[] };
  status(): unknown;
  snapshot(): unknown;
}

export function startAdmin(address: string, port: number, sources: AdminSources): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const json = (code: number, body: unknown) => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(body, null, 2) + "\n");
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    switch (path) {
      case "/healthz":
        res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
        return;
      case "/ready": {
        const { ready, notes } = sources.ready();
        const body = [ready ? "ready" : "not ready", ...notes].join("\n") + "\n";
        res.writeHead(ready ? 200 : 503, { "content-type": "text/plain" }).end(body);
        return;
      }
      case "/metrics":
        sources.metrics().then(
          (m) => res.writeHead(200, { "content-type": m.contentType }).end(m.text),
          (err: Error) =>
            res.writeHead(500, { "content-type": "text/plain" }).end(`metrics failed: ${err.message}\n`),
        );
        return;
      case "/status":
        json(200, sources.status());
        return;
      case "/config_dump":
        json(200, sources.snapshot());
        return;
      default:
        res
          .writeHead(404, { "content-type": "text/plain" })
          .end("admin endpoints: /healthz /ready /metrics /status /config_dump\n");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
