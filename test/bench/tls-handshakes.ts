// `node dist/test/bench/tls-handshakes.js --port P --host NAME --ca FILE --path /100
// --connections N --warmup S --seconds S`: the handshake benchmark's client. N loops, each opening
// a new TLS connection to 127.0.0.1:P (SNI and Host NAME, certificate verified against the CA),
// sending one HTTP/1.1 request with "Connection: close", reading the answer until the server
// closes, and starting over. No session is ever offered for resumption, so every connection is a
// full handshake. Prints one JSON line (HandshakeReport) for the window after the warm-up.
//
// Why not wrk or ab: wrk keeps its SSL objects across reconnects and resumes about half of its TLS
// 1.3 sessions; ab speaks HTTP/1.0 only, which meshgate (uWebSockets.js) does not answer.
import { readFileSync } from "node:fs";
import { connect, createSecureContext } from "node:tls";
import { parseArgs } from "node:util";
import { checkHttpAnswer, type HandshakeReport, percentile, runFlags, sleep } from "./harness-tls-load.js";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      host: { type: "string" },
      ca: { type: "string" },
      path: { type: "string", default: "/" },
      connections: { type: "string", default: "64" },
      warmup: { type: "string", default: "1" },
      seconds: { type: "string", default: "10" },
    },
  });
  const { port, connections, warmupS, seconds } = runFlags(values);
  const host = values.host;
  if (host === undefined || values.ca === undefined) throw new Error("--host and --ca are required");
  // One context for every connection: building one per connection would cost more than the handshake.
  const secureContext = createSecureContext({ ca: readFileSync(values.ca) });
  const request = Buffer.from(`GET ${values.path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);

  let measuring = false;
  let finished = false;
  let completed = 0;
  let failed = 0;
  let resumed = 0;
  let firstError: string | undefined;
  const latencies: number[] = [];

  const once = () => {
    if (finished) return;
    const start = performance.now();
    const chunks: Buffer[] = [];
    let problem: string | undefined = "closed before an answer";
    let reused = false;
    const socket = connect({ host: "127.0.0.1", port, servername: host, secureContext });
    socket.once("secureConnect", () => {
      reused = socket.isSessionReused();
      socket.write(request);
    });
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.once("end", () => {
      problem = checkHttpAnswer(Buffer.concat(chunks).toString("latin1"));
    });
    socket.on("error", (err) => {
      problem = err.message;
    });
    socket.once("close", () => {
      if (finished) return;
      if (measuring) {
        if (problem === undefined) {
          completed++;
          latencies.push(performance.now() - start);
          if (reused) resumed++;
        } else {
          failed++;
          firstError ??= problem;
        }
      }
      // A failing server is not hammered in a tight loop.
      if (problem === undefined) once();
      else setTimeout(once, 10);
    });
  };
  for (let i = 0; i < connections; i++) once();

  await sleep(warmupS * 1000);
  measuring = true;
  const start = performance.now();
  await sleep(seconds * 1000);
  measuring = false;
  const elapsedS = (performance.now() - start) / 1000;
  finished = true;
  latencies.sort((a, b) => a - b);
  const report: HandshakeReport = {
    completed,
    seconds: elapsedS,
    connections,
    failed,
    resumed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ...(firstError === undefined ? {} : { error: firstError }),
  };
  console.log(JSON.stringify(report));
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`tls-handshakes: ${err.message}`);
    process.exit(2);
  },
);
