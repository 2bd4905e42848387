// The one shape of meshgate's log stream: JSON lines on stdout with the level as a name
// ("level":"warn", what people grep for, not pino's 40), all written through one destination
// per process. Two pino destinations on the same descriptor each write from their own buffer;
// when the pipe is full one's write is cut short and the other's can land in the middle of a
// line. One destination writes its buffer in order, so lines stay whole.
import pino from "pino";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && (LOG_LEVELS as readonly string[]).includes(value);
}

/** Options every meshgate logger shares: the level by name and an ISO time. */
export const LINE_OPTIONS = {
  formatters: { level: (label: string) => ({ level: label }) },
  timestamp: pino.stdTimeFunctions.isoTime,
} satisfies pino.LoggerOptions;

type Destination = ReturnType<typeof pino.destination>;
let stdout: Destination | undefined;

/**
 * This process's (or thread's) stdout destination, created once: asynchronous, flushed on exit.
 * A worker thread gets its own (a thread shares the descriptor, not this module's state).
 */
export function stdoutLines(): Destination {
  stdout ??= pino.destination({ dest: 1, sync: false, minLength: 0 });
  return stdout;
}

/** A logger for a part of meshgate on stdout, at `level`. */
export function componentLogger(component: string, level: LogLevel): pino.Logger {
  return pino({ ...LINE_OPTIONS, level, base: { component } }, stdoutLines());
}
