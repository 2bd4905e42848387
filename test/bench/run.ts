// `npm run bench`: meshgate against nginx-as-proxy and HAProxy, one core each, same origin.
// Pinning: every proxy on core 0; the nginx origin and wrk on core 1.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { basicConfig } from "../support/meshgate.js";
import { freePort, waitFor } from "../support/net.js";
import { parseWrk, type WrkResult } from "./wrk.js";

const QUICK = process.env["BENCH_QUICK"] === "1";
const DURATION = Number(process.env["BENCH_DURATION"] ?? (QUICK ? 3 : 10));
const RUNS = Number(process.env["BENCH_RUNS"] ?? (QUICK ? 1 : 3));
const CLI = fileURLToPath(new URL("../../cli.js", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "meshgate-bench-"));
const children: ChildProcess[] = [];

function ensureTools(): void {
  const missing = ["/usr/sbin/nginx", "/usr/sbin/haproxy", "/usr/bin/wrk"].filter((p) => !existsSync(p));
  if (missing.length === 0) return;
  console.log(`installing nginx, haproxy and wrk (missing: ${missing.join(", ")})`);
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
  execFileSync("apt-get", ["install", "-y", "-qq", "nginx", "haproxy", "wrk"], {
    stdio: "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

function pinned(
  core: number,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): ChildProcess {
  const child = spawn("taskset", ["-c", String(core), cmd, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  let log = "";
  child.stdout?.on("data", (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  child.stderr?.on("data", (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  (child as ChildProcess & { log: () => string }).log = () => log;
  children.push(child);
  return child;
}

async function stopAll(): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once("exit", () => resolve());
          c.kill("SIGTERM");
          setTimeout(() => c.kill("SIGKILL"), 3000).unref();
        }),
    ),
  );
}

async function waitPort(port: number, path = "/100"): Promise<void> {
  await waitFor(
    async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}${path}`)).status === 200;
      } catch {
        return false;
      }
    },
    20_000,
    100,
  );
}

const BODY_100 = "x".repeat(99) + "\n";
const BODY_16K = "y".repeat(16 * 1024 - 1) + "\n";

function nginxConf(name: string, server: string): string {
  const dir = join(work, name);
  execFileSync("mkdir", ["-p", dir]);
  const conf = `daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  default_type text/plain;
  ${server}
}
`;
  const file = join(dir, "nginx.conf");
  writeFileSync(file, conf);
  return file;
}

async function startOrigin(): Promise<number> {
  const port = await freePort();
  // nginx's return takes at most 4 KiB of text: the 16 KiB body is a static file.
  const bodyFile = join(work, "16k.txt");
  writeFileSync(bodyFile, BODY_16K);
  const conf = nginxConf(
    "origin",
    `server { listen 127.0.0.1:${port}; location = /100 { return 200 "${BODY_100.trimEnd()}\\n"; } location = /16k { alias ${bodyFile}; } }`,
  );
  pinned(1, "/usr/sbin/nginx", ["-c", conf, "-p", join(work, "origin")]);
  await waitPort(port);
  return port;
}

interface Target {
  name: string;
  port: number;
  pid: number;
}

async function startNginxProxy(origin: number): Promise<Target> {
  const port = await freePort();
  const conf = nginxConf(
    "proxy",
    `upstream origin { server 127.0.0.1:${origin}; keepalive 64; }
  server { listen 127.0.0.1:${port}; location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
  );
  const child = pinned(0, "/usr/sbin/nginx", ["-c", conf, "-p", join(work, "proxy")]);
  await waitPort(port);
  return { name: "nginx", port, pid: child.pid ?? 0 };
}

async function startHaproxy(origin: number): Promise<Target> {
  const port = await freePort();
  const file = join(work, "haproxy.cfg");
  writeFileSync(
    file,
    `global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend web
  bind 127.0.0.1:${port}
  default_backend origin
backend origin
  server o1 127.0.0.1:${origin}
`,
  );
  const child = pinned(0, "/usr/sbin/haproxy", ["-f", file, "-db"]);
  await waitPort(port);
  return { name: "haproxy", port, pid: child.pid ?? 0 };
}

async function startMeshgate(origin: number): Promise<Target> {
  const port = await freePort();
  const admin = await freePort();
  const dir = join(work, "meshgate");
  execFileSync("mkdir", ["-p", dir]);
  writeFileSync(join(dir, "gateway.yaml"), basicConfig(port, [origin]));
  const flags = (process.env["MESHGATE_NODE_FLAGS"] ?? "").split(" ").filter((f) => f.length > 0);
  const child = pinned(0, process.execPath, [
    ...flags,
    CLI,
    "standalone",
    "--config",
    dir,
    "--workers",
    "1",
    "--admin-port",
    String(admin),
    "--access-log",
    "off",
  ]);
  try {
    await waitPort(port);
  } catch {
    throw new Error(`meshgate did not start: ${(child as ChildProcess & { log: () => string }).log()}`);
  }
  return { name: "meshgate", port, pid: child.pid ?? 0 };
}

function rssMb(pid: number): number {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return Number.NaN;
  }
}

function wrk(port: number, path: string, conns: number, seconds: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn("taskset", [
      "-c",
      "1",
      "wrk",
      "-t1",
      `-c${conns}`,
      `-d${seconds}s`,
      "--latency",
      `http://127.0.0.1:${port}${path}`,
    ]);
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("exit", () => resolve(out));
  });
}

interface Measure extends WrkResult {
  rssMb: number;
}

async function measure(target: Target, path: string, conns: number): Promise<Measure> {
  await wrk(target.port, path, conns, 2);
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMb(target.pid));
  }, 200);
  const result = parseWrk(await wrk(target.port, path, conns, DURATION));
  clearInterval(timer);
  return { ...result, rssMb: target.pid === 0 ? Number.NaN : peak };
}

function median(values: number[]): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? (v[mid] ?? Number.NaN) : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2;
}

function version(cmd: string, args: string[]): string {
  try {
    // nginx and wrk print their versions on stderr.
    const out = execFileSync("sh", ["-c", `${cmd} ${args.join(" ")} 2>&1`], {
      stdio: ["ignore", "pipe", "pipe"],
    }).toString();
    return out.split("\n")[0]?.trim() ?? "?";
  } catch (err) {
    const e = err as { stderr?: Buffer };
    return e.stderr?.toString().split("\n")[0]?.trim() ?? "?";
  }
}

async function main(): Promise<void> {
  ensureTools();
  const origin = await startOrigin();
  const targets: Target[] = [{ name: "direct", port: origin, pid: 0 }];
  const failed: string[] = [];
  for (const start of [startNginxProxy, startHaproxy, startMeshgate]) {
    try {
      targets.push(await start(origin));
    } catch (err) {
      failed.push((err as Error).message);
    }
  }
  const scenarios = [
    { name: "100B c64", path: "/100", conns: 64 },
    { name: "100B c256", path: "/100", conns: 256 },
    { name: "16KiB c64", path: "/16k", conns: 64 },
  ];
  const samples = new Map<string, Measure[]>();
  for (let run = 0; run < RUNS; run++) {
    for (const s of scenarios) {
      for (const t of targets) {
        const m = await measure(t, s.path, s.conns);
        const key = `${s.name}|${t.name}`;
        samples.set(key, [...(samples.get(key) ?? []), m]);
        process.stderr.write(`run ${run + 1}/${RUNS} ${s.name} ${t.name}: ${Math.round(m.rps)} rps\n`);
      }
    }
  }
  const cores = cpus().length;
  console.log(
    `\nmeshgate benchmark: ${cores} cores (${cpus()[0]?.model ?? "?"}), node ${process.version}, ${version("/usr/sbin/nginx", ["-v"])}, ` +
      `${version("/usr/sbin/haproxy", ["-v"])}, ${version("wrk", ["-v"])}`,
  );
  console.log(
    `pinning: proxies on core 0, origin (nginx) and wrk on core 1; ${RUNS} interleaved run(s) of ${DURATION} s, medians\n`,
  );
  const header = ["scenario", "target", "rps", "p50 ms", "p99 ms", "RSS MB", "x nginx", "x direct", "errors"];
  const rows: string[][] = [];
  const summary: Record<string, Record<string, Record<string, number>>> = {};
  for (const s of scenarios) {
    const med = (name: string, f: (m: Measure) => number) =>
      median((samples.get(`${s.name}|${name}`) ?? []).map(f));
    const nginxRps = med("nginx", (m) => m.rps);
    const directRps = med("direct", (m) => m.rps);
    for (const t of targets) {
      const rps = med(t.name, (m) => m.rps);
      const errors = (samples.get(`${s.name}|${t.name}`) ?? []).reduce(
        (sum, m) => sum + m.non2xx + m.socketErrors,
        0,
      );
      const row = {
        rps,
        p50: med(t.name, (m) => m.p50Ms),
        p99: med(t.name, (m) => m.p99Ms),
        rss: med(t.name, (m) => m.rssMb),
        xNginx: rps / nginxRps,
        xDirect: rps / directRps,
        errors,
      };
      const scenarioRows = summary[s.name] ?? {};
      scenarioRows[t.name] = row;
      summary[s.name] = scenarioRows;
      rows.push([
        s.name,
        t.name,
        Number.isNaN(rps) ? "-" : Math.round(rps).toString(),
        row.p50.toFixed(2),
        row.p99.toFixed(2),
        Number.isNaN(row.rss) ? "-" : row.rss.toFixed(0),
        row.xNginx.toFixed(2),
        row.xDirect.toFixed(2),
        String(errors),
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  for (const f of failed) console.log(`\nmeshgate: failed to start (${f})`);
  const m = summary["100B c64"]?.["meshgate"];
  const n = summary["100B c64"]?.["nginx"];
  if (m !== undefined && n !== undefined) {
    const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");
    const maxRss = Math.max(...scenarios.map((s) => summary[s.name]?.["meshgate"]?.["rss"] ?? Number.NaN));
    console.log(
      `\ntargets (100B c64): meshgate rps >= 0.6x nginx: ${m["xNginx"]?.toFixed(2)} ${verdict((m["xNginx"] ?? 0) >= 0.6)}; ` +
        `p99 <= 2x nginx: ${((m["p99"] ?? 0) / (n["p99"] ?? 1)).toFixed(2)}x ${verdict((m["p99"] ?? 0) <= 2 * (n["p99"] ?? 0))}; ` +
        `RSS <= 120 MB (max over scenarios): ${maxRss.toFixed(0)} MB ${verdict(maxRss <= 120)}`,
    );
  }
  writeFileSync(
    join(fileURLToPath(new URL("../../", import.meta.url)), "bench-result.json"),
    JSON.stringify(summary, null, 2),
  );
}

main()
  .catch((err: Error) => {
    console.error(`benchmark failed: ${err.stack ?? err.message}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll();
    rmSync(work, { recursive: true, force: true });
  });
process.on("SIGINT", () => {
  stopAll().then(() => process.exit(130));
});
