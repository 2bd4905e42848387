// A tiny backend for the quickstart: answers every request with what it received, so a newcomer
// sees the routed request, its rewritten path and the headers the gateway added.
import { createServer, type Server } from "node:http";

export function startDemoBackend(port: number, address = "127.0.0.1"): Promise<Server> {
  const server = createServer((req, res) => {
    const body = JSON.stringify(
      {
        message: "hello from the meshgate demo backend",
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      null,
      2,
    );
    res.writeHead(200, { "content-type": "application/json" });
    res.end(body + "\n");
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => resolve(server));
  });
}
