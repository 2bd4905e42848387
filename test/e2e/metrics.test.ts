// /metrics of a real `meshgate standalone --workers 2`: the data planes' counters are summed
// across the workers, while the per-process default metrics (memory, event-loop lag) appear once
// per worker and once for the supervisor, labelled, never summed; the exposition parses strictly.
import test from "ava";
import { startBackend } from "../support/backend.js";
import { basicConfig, configFolder, startMeshgate } from "../support/meshgate.js";
import { freePort } from "../support/net.js";
import { type Family, parsePrometheusText } from "../support/prom-text.js";
import { RawClient } from "../support/raw-client.js";
import { acceptingPids } from "../support/socket-owner.js";

interface WorkerInfo {
  index: number;
  pid: number;
}

const valueOf = (family: Family | undefined, labels: Record<string, string>): number | undefined =>
  family?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

test("with two workers, process and event-loop metrics are per worker and per supervisor; request counters add up", async (t) => {
  const backend = await startBackend("app");
  const port = await freePort();
  const folder = configFolder();
  folder.write("gateway.yaml", basicConfig(port, [backend.port]));
  const gw = await startMeshgate(folder.dir);
  const clients: RawClient[] = [];
  try {
    const pids = (JSON.parse((await gw.admin("/status")).text) as { workers: WorkerInfo[] }).workers.map((w) => w.pid);
    t.is(pids.length, 2);
    // Keep-alive connections until each worker holds at least one (the kernel spreads them).
    let owners: (number | undefined)[] = [];
    for (let i = 0; i < 40 && !pids.every((pid) => owners.includes(pid)); i++) {
      clients.push(await RawClient.open(port));
      owners = acceptingPids(port, clients.map((c) => c.localPort), pids);
    }
    t.true(pids.every((pid) => owners.includes(pid)), "both workers hold connections");
    // A different number of requests per worker, so a sum cannot be mistaken for one worker's count.
    const perWorker = new Map<number, number>();
    for (const [i, client] of clients.entries()) {
      const owner = owners[i] ?? 0;
      const n = owner === pids[0] ? 3 : 5;
      for (let r = 0; r < n; r++) {
        client.write(Buffer.from("GET /m HTTP/1.1\r\nhost: shop.example.com\r\n\r\n"));
        const [response] = await client.read(["GET"]);
        t.is(response?.status, 200);
      }
      perWorker.set(owner, (perWorker.get(owner) ?? 0) + n);
    }
    const total = [...perWorker.values()].reduce((a, b) => a + b, 0);
    t.log(`requests per worker pid: ${JSON.stringify(Object.fromEntries(perWorker))}, total ${total}`);

    // The first scrape starts the lag histograms' window; time the following ones, as a 15 s scrape would see them.
    await gw.admin("/metrics");
    const times: number[] = [];
    let text = "";
    for (let i = 0; i < 10; i++) {
      const started = process.hrtime.bigint();
      text = (await gw.admin("/metrics")).text;
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    times.sort((a, b) => a - b);
    t.log(`scrape time over 10 scrapes, 2 workers: median ${times[5]?.toFixed(1)} ms, max ${times[9]?.toFixed(1)} ms, ${text.length} bytes, ${text.split("\n").length} lines`);
    t.log(
      text
        .split("\n")
        .filter((l) => /^(process_resident_memory_bytes|nodejs_eventloop_lag_p99_seconds|nodejs_eventloop_lag_seconds|meshgate_http_requests_total)\b/.test(l))
        .join("\n"),
    );

    const families = parsePrometheusText(text);
    for (const name of ["process_resident_memory_bytes", "nodejs_eventloop_lag_seconds", "nodejs_eventloop_lag_p99_seconds", "process_cpu_seconds_total", "nodejs_heap_size_used_bytes",
      // prom-client's own merge would keep one start time (and drop the rest) and average the lag.
      "process_start_time_seconds"]) {
      const family = families.get(name);
      const workers = (family?.samples ?? []).map((s) => s.labels["worker"]).sort();
      t.deepEqual(workers, ["0", "1", "supervisor"], `${name}: one series per worker and one for the supervisor`);
    }
    for (const worker of ["0", "1", "supervisor"]) {
      const rss = valueOf(families.get("process_resident_memory_bytes"), { worker }) ?? 0;
      t.true(rss > 10e6 && rss < 2e9, `worker ${worker}: RSS ${rss} bytes, one process's`);
    }
    t.is(valueOf(families.get("meshgate_http_requests_total"), { route: "default/app", code: "200" }), total, "counters are summed over the workers");
    t.is(valueOf(families.get("meshgate_http_request_duration_seconds"), { route: "default/app", le: "+Inf" }), total);
  } finally {
    for (const client of clients) client.close();
    t.is(await gw.stop(), 0);
    await backend.close();
  }
});

test("threads report the process once (the supervisor's) and each thread's event loop; one local worker is worker 0", async (t) => {
  const folder = configFolder();
  folder.write("gateway.yaml", basicConfig(await freePort(), [await freePort()]));
  const workersOf = (families: Map<string, Family>, name: string) =>
    (families.get(name)?.samples ?? []).map((s) => s.labels["worker"]).sort();
  const cases: [string, string[], string[], string[]][] = [
    // [mode args, process_* workers, nodejs_* event-loop workers]
    ["threads", ["--worker-mode", "threads"], ["supervisor"], ["0", "1", "supervisor"]],
    ["local", ["--workers", "1", "--worker-mode", "local"], ["0"], ["0"]],
  ];
  for (const [mode, args, processWorkers, loopWorkers] of cases) {
    const gw = await startMeshgate(folder.dir, args);
    try {
      const families = parsePrometheusText((await gw.admin("/metrics")).text);
      t.deepEqual(workersOf(families, "process_resident_memory_bytes"), processWorkers, `${mode}: process_resident_memory_bytes`);
      t.deepEqual(workersOf(families, "process_cpu_seconds_total"), processWorkers, `${mode}: process_cpu_seconds_total`);
      t.deepEqual(workersOf(families, "nodejs_eventloop_lag_p99_seconds"), loopWorkers, `${mode}: nodejs_eventloop_lag_p99_seconds`);
      t.deepEqual(workersOf(families, "nodejs_heap_size_used_bytes"), loopWorkers, `${mode}: nodejs_heap_size_used_bytes`);
    } finally {
      t.is(await gw.stop(), 0);
    }
  }
});
