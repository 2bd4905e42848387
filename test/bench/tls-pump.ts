// `node dist/test/bench/tls-pump.js --port P --servername NAME --ca FILE --connections N
// --warmup S --seconds S`: the passthrough benchmark's client. Opens N TLS connections to
// 127.0.0.1:P (through the proxy under test, to the TLS origin, which writes as fast as it is
// read), reads everything, and prints one JSON line (PumpReport) with the bytes received during
// the measured window that follows the warm-up. Verifies the origin's certificate against the CA:
// a proxy that answered with something else would show up as a failed connection, not as speed.
import { readFileSync } from "node:fs";
import { connect, type TLSSocket } from "node:tls";
import { parseArgs } from "node:util";
import { type PumpReport, runFlags, sleep } from "./harness-tls-load.js";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      servername: { type: "string" },
      ca: { type: "string" },
      connections: { type: "string", default: "8" },
      warmup: { type: "string", default: "1" },
      seconds: { type: "string", default: "10" },
    },
  });
  const { port, connections, warmupS, seconds } = runFlags(values);
  if (values.servername === undefined || values.ca === undefined) throw new Error("--servername and --ca are required");
  const ca = readFileSync(values.ca);

  let received = 0;
  let established = 0;
  let failed = 0;
  let firstError: string | undefined;
  let finished = false;
  const sockets: TLSSocket[] = [];
  for (let i = 0; i < connections; i++) {
    const socket = connect({ host: "127.0.0.1", port, servername: values.servername, ca });
    socket.once("secureConnect", () => {
      established++;
    });
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.on("error", (err) => {
      firstError ??= err.message;
    });
    socket.once("close", () => {
      if (finished) return;
      failed++;
      firstError ??= "closed by the other side";
    });
    sockets.push(socket);
  }

  await sleep(warmupS * 1000);
  const startBytes = received;
  const start = performance.now();
  await sleep(seconds * 1000);
  const bytes = received - startBytes;
  const elapsedS = (performance.now() - start) / 1000;
  finished = true;
  const report: PumpReport = {
    bytes,
    seconds: elapsedS,
    connections,
    established,
    failed,
    ...(firstError === undefined ? {} : { error: firstError }),
  };
  console.log(JSON.stringify(report));
  for (const socket of sockets) socket.destroy();
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`tls-pump: ${err.message}`);
    process.exit(2);
  },
);
