// A stand-in for the gateway's HTTP listener: serves HTTP-01 answers from an Http01Responder on
// 127.0.0.1 and remembers which paths the CA asked for.
import { createServer } from "node:http";
import type { Http01Responder } from "../../certs/http01.js";

export interface ChallengeServer {
  requests: string[];
  close(): Promise<void>;
}

export async function serveChallenges(responder: Http01Responder, port: number): Promise<ChallengeServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    requests.push(path);
    const body = responder.answer(path);
    res.writeHead(body === undefined ? 404 : 200, { "content-type": "text/plain" });
    res.end(body ?? "not found");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
