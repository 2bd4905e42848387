// Resident memory of another process and its worker processes (Linux /proc), sampled while a
// test drives it.
import { readFileSync } from "node:fs";
import { processTree } from "./process-tree.js";

/** VmRSS of `pid` and its descendants in MB. */
export function rssMb(pid: number): number {
  let kb = 0;
  for (const member of processTree(pid)) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${member}/status`, "utf8"))?.[1] ?? "0");
    } catch {
      // gone meanwhile
    }
  }
  return kb / 1024;
}

export interface RssSamples {
  readonly start: number;
  /** Stops sampling; the peak and the last sample (taken now) in MB. */
  stop(): { peak: number; end: number };
}

/** Samples `pid`'s RSS every `everyMs` until stopped. */
export function sampleRss(pid: number, everyMs = 50): RssSamples {
  const start = rssMb(pid);
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, everyMs);
  // A test that fails before stop() must not leave its worker running forever (seen under load:
  // an assertion threw past stop() and the ava worker sampled for 30 minutes).
  timer.unref();
  return {
    start,
    stop() {
      clearInterval(timer);
      const end = rssMb(pid);
      return { peak: Math.max(peak, end), end };
    },
  };
}
