// Resident memory of another process (Linux /proc), sampled while a test drives it.
import { readFileSync } from "node:fs";

/** VmRSS of `pid` in MB. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? "0");
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
  return {
    start,
    stop() {
      clearInterval(timer);
      const end = rssMb(pid);
      return { peak: Math.max(peak, end), end };
    },
  };
}
