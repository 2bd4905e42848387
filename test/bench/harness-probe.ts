// Readiness probes, the RSS sampler and the check that the proxy had its core to itself.
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { processTree } from "../support/process-tree.js";
import type { Pinned } from "./harness-procs.js";

/** Status and body of one GET; a fresh connection that is closed afterwards, so no probe socket
 * stays open on a proxy during the measured runs. */
export function httpGet(port: number, path: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, agent: false, headers: { connection: "close" }, timeout: timeoutMs },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Polls GET `path` until it answers `expect` (status, and body length when given). Fails early
 * when the program exits, with the end of its log as the reason.
 */
export async function waitServing(
  proc: Pinned,
  port: number,
  path: string,
  timeoutMs: number,
  expect: { status: number; bodyLength?: number } = { status: 200 },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  for (;;) {
    const ended = proc.exitReason();
    if (ended !== undefined) throw new Error(`${ended}${lastLine(proc)}`);
    try {
      const res = await httpGet(port, path);
      if (
        res.status === expect.status &&
        (expect.bodyLength === undefined || res.body.length === expect.bodyLength)
      )
        return;
      last = `answered ${res.status} with ${res.body.length} bytes`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(`GET ${path} on port ${port} not ${expect.status} within ${timeoutMs / 1000} s (${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function lastLine(proc: Pinned): string {
  const line = proc.logTail(1).trim();
  return line === "" ? "" : `: ${line}`;
}

/** VmRSS of a process and its descendants in MB; NaN once it is gone. */
export function rssMb(pid: number): number {
  let total = Number.NaN;
  for (const member of processTree(pid)) {
    try {
      const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${member}/status`, "utf8"))?.[1];
      if (kb !== undefined) total = (Number.isNaN(total) ? 0 : total) + Number(kb) / 1024;
    } catch {
      // gone
    }
  }
  return total;
}

/** Samples VmRSS every `everyMs`; stop() gives the peak (NaN if no sample could be read). */
export function sampleRss(pid: number, everyMs = 200): { stop(): number } {
  let peak = Number.NaN;
  const take = () => {
    const mb = rssMb(pid);
    if (!Number.isNaN(mb) && !(mb <= peak)) peak = mb;
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return peak;
    },
  };
}

/** Busy and total clock ticks of one core since boot, from /proc/stat. */
function coreTicks(core: number): { busy: number; idle: number; total: number } {
  const line = new RegExp(`^cpu${core} (.*)$`, "m").exec(readFileSync("/proc/stat", "utf8"))?.[1] ?? "";
  // user nice system idle iowait irq softirq steal. Interrupt time is left out of "busy": the
  // kernel books the proxy's own network softirqs there rather than on the proxy, and counting them
  // would flag every run. Steal stays in: a hypervisor taking the core disturbs the proxy too.
  const ticks = line.trim().split(/\s+/).slice(0, 8).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, , , steal = 0] = ticks;
  return {
    busy: user + nice + system + steal,
    idle: idle + iowait,
    total: ticks.reduce((sum, t) => sum + t, 0),
  };
}

/** User plus system clock ticks of a process and its descendants, all threads included; 0 once gone. */
function processTicks(pid: number): number {
  let ticks = 0;
  for (const member of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${member}/stat`, "utf8");
      // Fields after the ")" that closes the command name start at field 3; utime and stime are 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks;
}

/**
 * Share of `core`'s time that processes other than `pid` used while sampling: the proxy should have
 * its core to itself, and on a shared machine this says when it did not.
 */
export function sampleForeignCpu(core: number, pid?: number): { stop(): number } {
  const core0 = coreTicks(core);
  const own0 = pid === undefined ? 0 : processTicks(pid);
  return {
    stop: () => {
      const core1 = coreTicks(core);
      const own = pid === undefined ? 0 : processTicks(pid) - own0;
      const total = core1.total - core0.total;
      return total <= 0 ? Number.NaN : Math.max(0, (core1.busy - core0.busy - own) / total);
    },
  };
}

export interface CoreUse {
  /** Share (0-1) of the proxy's core that `pid` used, all its threads included. */
  own: number;
  /** Share (0-1) of the proxy's core that other processes used (as sampleForeignCpu). */
  foreign: number;
  /** Share (0-1) of the load core that was not idle, interrupts included: near 1, the load
   * generator and origin were the limit rather than the proxy. */
  load: number;
}

/** How busy both cores were while sampling, and how much of the proxy core was the proxy's. */
export function sampleCoreUse(proxyCore: number, loadCore: number, pid?: number): { stop(): CoreUse } {
  const proxy0 = coreTicks(proxyCore);
  const load0 = coreTicks(loadCore);
  const own0 = pid === undefined ? 0 : processTicks(pid);
  return {
    stop: () => {
      const proxy1 = coreTicks(proxyCore);
      const load1 = coreTicks(loadCore);
      const own = pid === undefined ? 0 : processTicks(pid) - own0;
      const proxyTotal = proxy1.total - proxy0.total;
      const loadTotal = load1.total - load0.total;
      const share = (part: number, total: number) => (total <= 0 ? Number.NaN : Math.min(1, Math.max(0, part / total)));
      return {
        own: share(own, proxyTotal),
        foreign: share(proxy1.busy - proxy0.busy - own, proxyTotal),
        load: share(loadTotal - (load1.idle - load0.idle), loadTotal),
      };
    },
  };
}
