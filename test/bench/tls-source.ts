// `node dist/test/bench/tls-source.js PORT CHAIN_FILE KEY_FILE`: the passthrough benchmark's TLS
// origin. Each connection, once its handshake is done, gets 64 KiB writes for as long as the peer
// reads them, until it closes. Started (and stopped) by the benchmark, pinned to the load core.
import { readFileSync } from "node:fs";
import { createServer, type TLSSocket } from "node:tls";

const WRITE_BYTES = 64 * 1024;

function serve(socket: TLSSocket, chunk: Buffer): void {
  let open = true;
  const write = () => {
    // A 64 KiB write is above the socket's 16 KiB high-water mark: one write per 'drain'.
    while (open && socket.write(chunk));
  };
  socket.on("drain", write);
  socket.on("close", () => {
    open = false;
  });
  // The client ends every connection by destroying it; that is no error worth a word.
  socket.on("error", () => socket.destroy());
  write();
}

function main(): void {
  const [port, chainFile, keyFile] = process.argv.slice(2);
  if (port === undefined || chainFile === undefined || keyFile === undefined)
    throw new Error("usage: tls-source.js PORT CHAIN_FILE KEY_FILE");
  const chunk = Buffer.alloc(WRITE_BYTES, "meshgate-bench-tls-source ");
  const server = createServer({ cert: readFileSync(chainFile), key: readFileSync(keyFile) }, (socket) =>
    serve(socket, chunk),
  );
  // Handshakes that fail (a probe giving up) are the client's business.
  server.on("tlsClientError", () => undefined);
  server.listen({ host: "127.0.0.1", port: Number(port), backlog: 4096 }, () =>
    console.log(`tls-source listening on 127.0.0.1:${port}`),
  );
  process.once("SIGTERM", () => process.exit(0));
}

main();
