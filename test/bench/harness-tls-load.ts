// The TLS benchmark's load generators, their command lines and their reports -> figures:
// - tls-handshakes (new connection and full handshake per request; see that file for why not wrk
//   or ab);
// - wrk over https for keep-alive requests;
// - tls-pump for passthrough throughput.
// Both Node generators print one JSON line; the helpers they share are here too. Pure, except the
// run* functions.
import { fileURLToPath } from "node:url";
import type { Supervisor } from "./harness-procs.js";
import { WRK } from "./harness-tools.js";
import { parseWrk, type WrkResult } from "./harness-wrk.js";

const PUMP_SCRIPT = fileURLToPath(new URL("./tls-pump.js", import.meta.url));
const HANDSHAKES_SCRIPT = fileURLToPath(new URL("./tls-handshakes.js", import.meta.url));

export interface WrkTlsRun {
  core: number;
  /** The name in the URL: wrk's SNI and Host header. */
  host: string;
  port: number;
  path: string;
  connections: number;
  seconds: number;
  /** The file holding WRK_LOOPBACK_LUA, so that `host` need not resolve. */
  script: string;
}

export function wrkTlsArgs(run: WrkTlsRun): string[] {
  return [
    "-t1",
    `-c${run.connections}`,
    `-d${run.seconds}s`,
    "--latency",
    "-s",
    run.script,
    `https://${run.host}:${run.port}${run.path}`,
  ];
}

export async function runWrkTls(sup: Supervisor, run: WrkTlsRun): Promise<{ result: WrkResult; output: string }> {
  const { output } = await sup.runToEnd(run.core, WRK, wrkTlsArgs(run), (run.seconds + 15) * 1000);
  return { result: parseWrk(output), output };
}

/** The value at `percent` (0-100) of ascending `sorted`, nearest rank; NaN when empty. */
export function percentile(sorted: number[], percent: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((percent / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

/** Checks a whole HTTP/1.1 answer read until the server closed: undefined when it is a 200 whose
 * body has the length its Content-Length says; otherwise what is wrong. */
export function checkHttpAnswer(text: string): string | undefined {
  const headEnd = text.indexOf("\r\n\r\n");
  if (headEnd < 0) return text === "" ? "closed before an answer" : "incomplete answer";
  const head = text.slice(0, headEnd);
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
  if (status !== "200") return `status ${status ?? "line missing"}`;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
  const body = text.length - headEnd - 4;
  if (length !== undefined && Number(length) !== body) return `body ${body} bytes, content-length ${length}`;
  return undefined;
}

/** The last line of `output` that is JSON and passes `guard`. */
function lastJsonLine<T>(output: string, guard: (v: unknown) => v is T): T | undefined {
  for (const line of output.trim().split("\n").reverse()) {
    if (!line.startsWith("{")) continue;
    try {
      const parsed: unknown = JSON.parse(line);
      if (guard(parsed)) return parsed;
    } catch {
      // not a report line
    }
  }
  return undefined;
}

function numbers(value: unknown, keys: readonly string[], nullable: readonly string[] = []): boolean {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  const isNumber = (x: unknown) => typeof x === "number" && Number.isFinite(x);
  return keys.every((k) => isNumber(v[k])) && nullable.every((k) => v[k] === null || isNumber(v[k]));
}

function firstLine(output: string): string {
  const line = output.trim().split("\n")[0] ?? "";
  return line === "" ? "no output" : line;
}

/** What tls-handshakes prints, as one JSON line (NaN latencies print as null). */
export interface HandshakeReport {
  /** Requests answered in the measured window, each on a new connection. */
  completed: number;
  seconds: number;
  connections: number;
  /** Connections that failed or got a wrong answer in the window. */
  failed: number;
  /** Completed connections that resumed a session (should be 0). */
  resumed: number;
  /** Connect to close, handshake included. */
  p50Ms: number | null;
  p99Ms: number | null;
  error?: string;
}

export interface HandshakeResult {
  /** New connections (full handshakes) per second; NaN without a report. */
  perS: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  problem?: string;
}

const isHandshakeReport = (v: unknown): v is HandshakeReport =>
  numbers(v, ["completed", "seconds", "connections", "failed", "resumed"], ["p50Ms", "p99Ms"]);

export function parseHandshakes(output: string): HandshakeResult {
  const report = lastJsonLine(output, isHandshakeReport);
  if (report === undefined)
    return {
      perS: Number.NaN,
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
      errors: 1,
      problem: `no figures from tls-handshakes: ${firstLine(output)}`,
    };
  const result: HandshakeResult = {
    perS: report.seconds > 0 ? report.completed / report.seconds : Number.NaN,
    p50Ms: report.p50Ms ?? Number.NaN,
    p99Ms: report.p99Ms ?? Number.NaN,
    errors: report.failed,
  };
  const problems: string[] = [];
  if (report.failed > 0)
    problems.push(`${report.failed} failed${report.error === undefined ? "" : ` (first: ${report.error})`}`);
  if (report.resumed > 0) problems.push(`${report.resumed} resumed sessions: not all were full handshakes`);
  if (report.completed === 0 && report.failed === 0) problems.push("no connection completed");
  if (problems.length > 0) result.problem = problems.join("; ");
  return result;
}

export interface HandshakeRun {
  core: number;
  /** SNI and Host. */
  host: string;
  port: number;
  path: string;
  caFile: string;
  connections: number;
  warmupS: number;
  seconds: number;
}

export function handshakeArgs(run: HandshakeRun, script = HANDSHAKES_SCRIPT): string[] {
  return [
    script,
    "--port",
    String(run.port),
    "--host",
    run.host,
    "--ca",
    run.caFile,
    "--path",
    run.path,
    "--connections",
    String(run.connections),
    "--warmup",
    String(run.warmupS),
    "--seconds",
    String(run.seconds),
  ];
}

export async function runHandshakes(
  sup: Supervisor,
  run: HandshakeRun,
): Promise<{ result: HandshakeResult; output: string }> {
  const timeoutMs = (run.warmupS + run.seconds + 15) * 1000;
  const { output, reason } = await sup.runToEnd(run.core, process.execPath, handshakeArgs(run), timeoutMs);
  const result = parseHandshakes(output);
  if (Number.isNaN(result.perS) && reason !== "exit code 0") result.problem = `${result.problem} (${reason})`;
  return { result, output };
}

/** What tls-pump prints, as one JSON line. */
export interface PumpReport {
  /** Received during the measured window. */
  bytes: number;
  seconds: number;
  connections: number;
  /** Connections whose TLS handshake completed. */
  established: number;
  /** Connections that ended (or never opened) before the pump was done. */
  failed: number;
  /** The first error seen, if any. */
  error?: string;
}

export interface PumpResult {
  /** 10^6 bytes per second; NaN without a report. */
  mbPerS: number;
  /** Failed connections (or 1 when there is no report at all). */
  errors: number;
  /** Why the figure is missing or suspect. */
  problem?: string;
}

const isPumpReport = (v: unknown): v is PumpReport =>
  numbers(v, ["bytes", "seconds", "connections", "established", "failed"]);

/** The pump's last JSON line -> MB/s and problems; anything else -> NaN with the first line of
 * what it printed as the reason. */
export function parsePump(output: string): PumpResult {
  const report = lastJsonLine(output, isPumpReport);
  if (report === undefined) return { mbPerS: Number.NaN, errors: 1, problem: `no figures from tls-pump: ${firstLine(output)}` };
  const mbPerS = report.seconds > 0 ? report.bytes / report.seconds / 1e6 : Number.NaN;
  const result: PumpResult = { mbPerS, errors: report.failed };
  if (report.failed > 0 || report.established < report.connections)
    result.problem =
      `${report.established}/${report.connections} connections established, ${report.failed} failed` +
      (report.error === undefined ? "" : ` (first: ${report.error})`);
  else if (report.bytes === 0) result.problem = "no bytes received";
  return result;
}

export interface PumpRun {
  core: number;
  port: number;
  servername: string;
  caFile: string;
  connections: number;
  warmupS: number;
  seconds: number;
}

export function pumpArgs(run: PumpRun, script = PUMP_SCRIPT): string[] {
  return [
    script,
    "--port",
    String(run.port),
    "--servername",
    run.servername,
    "--ca",
    run.caFile,
    "--connections",
    String(run.connections),
    "--warmup",
    String(run.warmupS),
    "--seconds",
    String(run.seconds),
  ];
}

export async function runPump(sup: Supervisor, run: PumpRun): Promise<{ result: PumpResult; output: string }> {
  const timeoutMs = (run.warmupS + run.seconds + 15) * 1000;
  const { output, reason } = await sup.runToEnd(run.core, process.execPath, pumpArgs(run), timeoutMs);
  const result = parsePump(output);
  if (Number.isNaN(result.mbPerS) && reason !== "exit code 0") result.problem = `${result.problem} (${reason})`;
  return { result, output };
}

/** A numeric command-line flag of the load generators, >= 0. */
export function flagNumber(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (raw === undefined || !Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number >= 0`);
  return n;
}

/** The flags every load generator takes: where, how many connections, how long. */
export function runFlags(values: { port?: string; connections?: string; warmup?: string; seconds?: string }): {
  port: number;
  connections: number;
  warmupS: number;
  seconds: number;
} {
  return {
    port: flagNumber("port", values.port),
    connections: Math.max(1, Math.round(flagNumber("connections", values.connections))),
    warmupS: flagNumber("warmup", values.warmup),
    seconds: flagNumber("seconds", values.seconds),
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
