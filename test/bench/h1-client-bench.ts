// `node dist/test/bench/h1-client-bench.js`: requests per second through the h1 upstream client
// against undici's Pool, both driven through the same dispatch handler API: 64 request loops
// over 64 keep-alive connections to a raw TCP server (in a child process) answering every GET
// with a 100-byte body.
// BENCH_SECONDS (default 5) and BENCH_ROUNDS (default 2) change the run length, BENCH_BODY_BYTES
// (default 100) the response body size.
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { type Dispatcher, Pool } from "undici";
import { H1Pool } from "../../gateway/upstream/h1/pool.js";

const LOOPS = 64;
const CONNECTIONS = 64;
const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 5);
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 2);
const BODY_BYTES = Number(process.env["BENCH_BODY_BYTES"] ?? 100);
const BODY = "x".repeat(BODY_BYTES);
const RESPONSE = Buffer.from(
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`,
);
// What a proxy forwards for a typical API call.
const HEADERS: Record<string, string> = {
  host: "api.example.com",
  "user-agent": "wrk/4.2.0",
  accept: "*/*",
  "x-forwarded-for": "192.0.2.10",
  "x-forwarded-proto": "http",
  "x-request-id": "5b1a4c7e-3f0d-4e0a-9a1b-2f6c8d9e0a1b",
};

interface Dispatching {
  dispatch(
    opts: { path: string; method: string; headers: Record<string, string>; body: null },
    handler: Dispatcher.DispatchHandler,
  ): boolean;
  close(): Promise<void>;
}

/** The server side: answers every request head it sees, batching the answers per read. */
function serve(): void {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    let tail = "";
    socket.on("data", (chunk: Buffer) => {
      const text = tail + chunk.toString("latin1");
      let count = 0;
      let at = text.indexOf("\r\n\r\n");
      let last = 0;
      while (at !== -1) {
        count++;
        last = at + 4;
        at = text.indexOf("\r\n\r\n", last);
      }
      tail = text.slice(Math.max(last, text.length - 3));
      if (count === 1) socket.write(RESPONSE);
      else if (count > 1) socket.write(Buffer.concat(Array.from({ length: count }, () => RESPONSE)));
    });
    socket.on("error", () => {});
  });
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    if (address !== null && typeof address !== "string") process.stdout.write(`${address.port}\n`);
  });
}

/** Pins a process we started to one CPU when `taskset` exists and there is more than one. */
function pin(pid: number, cpu: number): boolean {
  try {
    execFileSync("taskset", ["-a", "-pc", String(cpu), String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

class RequestLoop implements Dispatcher.DispatchHandler {
  constructor(
    private readonly client: Dispatching,
    private readonly tally: { done: number; errors: number; bytes: number; running: boolean },
  ) {}

  next(): void {
    this.client.dispatch({ path: "/bench", method: "GET", headers: HEADERS, body: null }, this);
  }

  onRequestStart(): void {}

  onResponseStart(): void {}

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.tally.bytes += chunk.length;
  }

  onResponseEnd(): void {
    this.tally.done++;
    if (this.tally.running) this.next();
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.tally.errors++;
    if (this.tally.errors === 1) console.error(`  first error: ${err.message}`);
    if (this.tally.running) setImmediate(() => this.next());
  }
}

interface RunResult {
  rps: number;
  cpuMicrosPerRequest: number;
  /** Share of one core the server used; near 100% means the server, not the client, set the pace. */
  serverCpuPercent: number;
  errors: number;
}

/** CPU seconds a process used so far, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Warms up for a second, then counts completed requests for SECONDS. */
async function run(client: Dispatching, serverPid: number | undefined): Promise<RunResult> {
  const tally = { done: 0, errors: 0, bytes: 0, running: true };
  const loops = Array.from({ length: LOOPS }, () => new RequestLoop(client, tally));
  for (const loop of loops) loop.next();
  await new Promise((r) => setTimeout(r, 1000));
  const startDone = tally.done;
  const startCpu = process.cpuUsage();
  const startServerCpu = cpuSeconds(serverPid);
  const started = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(startCpu);
  const serverCpu = cpuSeconds(serverPid) - startServerCpu;
  const done = tally.done - startDone;
  tally.running = false;
  await new Promise((r) => setTimeout(r, 100));
  await client.close();
  return {
    rps: done / elapsed,
    cpuMicrosPerRequest: (cpu.user + cpu.system) / done,
    serverCpuPercent: (serverCpu / elapsed) * 100,
    errors: tally.errors,
  };
}

const h1Options = { connections: CONNECTIONS, connectTimeoutMs: 5000, idleTimeoutMs: 60_000 };

const allClients: [string, (port: number) => Dispatching][] = [
  ["meshgate h1 Pool", (port) => new H1Pool("127.0.0.1", port, h1Options)],
  [
    "undici Pool",
    (port) =>
      new Pool(`http://127.0.0.1:${port}`, {
        connections: CONNECTIONS,
        pipelining: 1,
        keepAliveTimeout: 60_000,
        headersTimeout: 0,
        bodyTimeout: 0,
      }),
  ],
];

// BENCH_ONLY=undici (a substring of a name) runs just the matching clients, e.g. for profiling.
const only = process.env["BENCH_ONLY"];
const clients = allClients.filter(([name]) => only === undefined || name.includes(only));

async function main(): Promise<void> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--server"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once("error", reject);
      child.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
    });
    const pinned = pin(process.pid, 0) && child.pid !== undefined && pin(child.pid, 1);
    console.log(
      `h1 client bench: ${LOOPS} loops, ${CONNECTIONS} connections, ${SECONDS} s per run, ${BODY_BYTES}-byte bodies, ` +
        `${pinned ? "client on cpu 0, server on cpu 1" : "not pinned"}, node ${process.version}`,
    );
    const results = new Map<string, RunResult[]>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, make] of clients) {
        const result = await run(make(port), child.pid);
        const list = results.get(name) ?? [];
        list.push(result);
        results.set(name, list);
        console.log(
          `round ${round}  ${name.padEnd(20)} ${Math.round(result.rps).toString().padStart(7)} req/s  ` +
            `${result.cpuMicrosPerRequest.toFixed(1).padStart(5)} us CPU/req  ` +
            `server at ${result.serverCpuPercent.toFixed(0)}% of a core  errors ${result.errors}`,
        );
      }
    }
    const best = (name: string) => Math.max(...(results.get(name) ?? []).map((r) => r.rps));
    console.log("best of rounds:");
    for (const [name] of clients) {
      console.log(`  ${name.padEnd(20)} ${Math.round(best(name)).toString().padStart(7)} req/s`);
    }
    if (results.has("meshgate h1 Pool") && results.has("undici Pool"))
      console.log(`  meshgate h1 / undici = ${(best("meshgate h1 Pool") / best("undici Pool")).toFixed(2)}x`);
  } finally {
    child.kill();
  }
}

if (process.argv[2] === "--server") serve();
else await main();
