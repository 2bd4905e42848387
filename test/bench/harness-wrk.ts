// wrk's text report -> figures, and one pinned wrk run.
import type { Supervisor } from "./harness-procs.js";
import { WRK } from "./harness-tools.js";

export interface SocketErrors {
  connect: number;
  read: number;
  write: number;
  timeout: number;
}

export interface WrkResult {
  /** NaN when wrk printed no figures (it could not connect, or was killed). */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  socket: SocketErrors;
  /** Non-2xx/3xx responses plus every socket error. */
  errors: number;
}

// wrk prints durations with the unit glued on: 950.00us, 1.29ms, 1.21s, 2.00m, 1.00h.
const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function durationMs(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text ?? "");
  const factor = UNIT_MS[m?.[2] ?? ""];
  // Rounded to whole microseconds, wrk's own resolution, so unit conversion adds no float noise.
  return m === null || factor === undefined ? Number.NaN : Math.round(Number(m[1]) * factor * 1000) / 1000;
}

function percentileMs(text: string, percent: number): number {
  // Only the "Latency Distribution" block has lines that start with "<n>%".
  const m = new RegExp(`^\\s*${percent}%\\s+(\\S+)\\s*$`, "m").exec(text);
  return durationMs(m?.[1]);
}

function count(text: string, pattern: RegExp): number {
  const m = pattern.exec(text);
  return m === null ? 0 : Number(m[1]);
}

export function parseWrk(text: string): WrkResult {
  const rpsMatch = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socket: SocketErrors = {
    connect: Number(sock?.[1] ?? 0),
    read: Number(sock?.[2] ?? 0),
    write: Number(sock?.[3] ?? 0),
    timeout: Number(sock?.[4] ?? 0),
  };
  const non2xx = count(text, /Non-2xx or 3xx responses: (\d+)/);
  return {
    rps: rpsMatch === null ? Number.NaN : Number(rpsMatch[1]),
    p50Ms: percentileMs(text, 50),
    p99Ms: percentileMs(text, 99),
    requests: count(text, /^\s*(\d+) requests in /m),
    non2xx,
    socket,
    errors: non2xx + socket.connect + socket.read + socket.write + socket.timeout,
  };
}

export interface WrkRun {
  core: number;
  port: number;
  path: string;
  connections: number;
  seconds: number;
}

/** One wrk thread is enough on one core; --latency adds the percentile block we parse. */
export function wrkArgs(run: WrkRun): string[] {
  return [
    "-t1",
    `-c${run.connections}`,
    `-d${run.seconds}s`,
    "--latency",
    `http://127.0.0.1:${run.port}${run.path}`,
  ];
}

/** Runs wrk and returns its parsed report plus the raw text (for notes when figures are missing). */
export async function runWrk(sup: Supervisor, run: WrkRun): Promise<{ result: WrkResult; output: string }> {
  // wrk stops itself after the duration; the margin covers its 2 s socket timeout and start-up.
  const { output } = await sup.runToEnd(run.core, WRK, wrkArgs(run), (run.seconds + 15) * 1000);
  return { result: parseWrk(output), output };
}

/** What went wrong in a wrk run, for the report: no figures at all, or errors among them. */
export function wrkProblem(result: WrkResult, output: string): string | undefined {
  if (Number.isNaN(result.rps)) return `no figures from wrk: ${output.trim().split("\n")[0] ?? ""}`;
  if (result.errors === 0) return undefined;
  const s = result.socket;
  return (
    `non-2xx ${result.non2xx}, socket errors connect ${s.connect}, read ${s.read}, ` +
    `write ${s.write}, timeout ${s.timeout}`
  );
}
