// Measures what applying a big configuration costs the traffic of a running meshgate: a client
// keeps requests going to a steady route (one at a time on each of a few keep-alive
// connections) and to the admin port while the folder changes, and records how long each one
// waited. The longest wait is the client's view of the gateway's event loop being blocked: a
// request that arrives while the loop is busy waits for it. Also: how long until a new route
// serves, and the gateway's RSS before, at peak and after.
import { rename, writeFile } from "node:fs/promises";
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";
import { rssMb } from "./process-memory.js";

export interface ApplyFigures {
  /** From the file write to the first 200 of a new route (includes the folder watch's 100 ms debounce). */
  applyMs: number;
  /** The longest a steady-route request waited for its answer, from the write to the end. */
  longestStallMs: number;
  /** When that request was sent, in ms after the write (negative: just before it). */
  longestStallAtMs: number;
  /** The same before the write, for comparison (what the machine and client cost alone). */
  baselineStallMs: number;
  /** The longest an admin /ready request waited from the write to the end. */
  longestAdminMs: number;
  /** Steady-route answers during the measurement, and those that were not 200. */
  answers: number;
  failures: number;
  rssBeforeMb: number;
  rssPeakMb: number;
  rssAfterMb: number;
}

export interface ApplyRun {
  pid: number;
  port: number;
  adminPort: number;
  /** Host header of the steady route. */
  steadyHost: string;
  /** Path requested on it (default /steady); it must answer 200. */
  steadyPath?: string;
  /**
   * Writes the new configuration (atomically), preferably without blocking this event loop: a
   * synchronous write of megabytes would delay the answers being timed.
   */
  write(): void | Promise<void>;
  /** A request that answers 200 once the new configuration serves. */
  probe: { host: string; path: string };
  /** Keep measuring this long after the new route serves (the rest of the apply, GC). */
  settleMs?: number;
  /** Give up waiting for the new route after this long. */
  timeoutMs?: number;
  connections?: number;
}

/** Replaces `file` with `text` by rename, as editors do, without blocking the event loop. */
export async function writeAtomically(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

/** VmRSS of a gateway, its worker processes included, in MiB. */
export const rssMib = rssMb;

interface Answer {
  status: number;
  ms: number;
  /** performance.now() when the request was sent. */
  sent: number;
}

function get(agent: Agent | false, port: number, host: string, path: string): Promise<Answer> {
  const sent = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, agent, headers: { host } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - sent, sent }));
      res.on("error", () => resolve({ status: 0, ms: performance.now() - sent, sent }));
    });
    req.on("error", () => resolve({ status: 0, ms: performance.now() - sent, sent }));
    req.end();
  });
}

/** Requests in a loop until stopped; `phase` says which maximum each wait counts towards. */
function loop(send: () => Promise<Answer>, record: (a: Answer) => void): { stop(): Promise<void> } {
  let running = true;
  const done = (async () => {
    while (running) record(await send());
  })();
  return {
    stop: async () => {
      running = false;
      await done;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function measureApply(run: ApplyRun): Promise<ApplyFigures> {
  const agent = new Agent({ keepAlive: true, maxSockets: run.connections ?? 2 });
  const adminAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  let phase: "baseline" | "apply" = "baseline";
  let written = Number.NaN;
  const f: ApplyFigures = {
    applyMs: Number.NaN,
    longestStallMs: 0,
    longestStallAtMs: Number.NaN,
    baselineStallMs: 0,
    longestAdminMs: 0,
    answers: 0,
    failures: 0,
    rssBeforeMb: rssMib(run.pid),
    rssPeakMb: 0,
    rssAfterMb: Number.NaN,
  };
  const steady = () => get(agent, run.port, run.steadyHost, run.steadyPath ?? "/steady");
  const loops = Array.from({ length: run.connections ?? 2 }, () =>
    loop(steady, (a) => {
      if (phase === "baseline") {
        f.baselineStallMs = Math.max(f.baselineStallMs, a.ms);
        return;
      }
      f.answers++;
      if (a.status !== 200) f.failures++;
      if (a.ms > f.longestStallMs) {
        f.longestStallMs = a.ms;
        f.longestStallAtMs = a.sent - written;
      }
    }),
  );
  const admin = loop(
    async () => {
      const a = await get(adminAgent, run.adminPort, "127.0.0.1", "/ready");
      await sleep(5);
      return a;
    },
    (a) => {
      if (phase === "apply") f.longestAdminMs = Math.max(f.longestAdminMs, a.ms);
    },
  );
  const rssTimer = setInterval(() => {
    f.rssPeakMb = Math.max(f.rssPeakMb, rssMib(run.pid));
  }, 25);
  try {
    await sleep(500);
    f.rssBeforeMb = rssMib(run.pid);
    phase = "apply";
    await run.write();
    written = performance.now();
    const deadline = written + (run.timeoutMs ?? 60_000);
    for (;;) {
      const a = await get(false, run.port, run.probe.host, run.probe.path);
      if (a.status === 200) {
        f.applyMs = performance.now() - written;
        break;
      }
      if (performance.now() > deadline) break;
      await sleep(10);
    }
    await sleep(run.settleMs ?? 1000);
  } finally {
    clearInterval(rssTimer);
    await Promise.all([...loops, admin].map((l) => l.stop()));
    agent.destroy();
    adminAgent.destroy();
  }
  f.rssAfterMb = rssMib(run.pid);
  f.rssPeakMb = Math.max(f.rssPeakMb, f.rssAfterMb);
  return f;
}

/** One line of figures, as the test and the bench print them. */
export function formatApply(label: string, f: ApplyFigures): string {
  const n = (x: number) => (Number.isNaN(x) ? "n/a" : x.toFixed(0));
  return (
    `${label}: apply ${n(f.applyMs)} ms, longest stall ${n(f.longestStallMs)} ms ` +
    `(sent ${n(f.longestStallAtMs)} ms after the write) ` +
    `(before the write ${n(f.baselineStallMs)} ms), longest admin wait ${n(f.longestAdminMs)} ms, ` +
    `${f.answers} answers (${f.failures} not 200), RSS ${n(f.rssBeforeMb)} -> peak ${n(f.rssPeakMb)} -> ` +
    `${n(f.rssAfterMb)} MiB`
  );
}
