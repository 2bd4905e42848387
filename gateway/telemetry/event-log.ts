// Data-plane events worth an operator's eye that are not requests (those go to the access log):
// JSON lines on stdout, written asynchronously, like the supervisor's own log.
import { componentLogger, type LogLevel } from "./log-lines.js";

export interface EventLog {
  /** One event; `fields` must hold no secrets (request bodies, credentials). */
  warn(fields: Record<string, unknown>, message: string): void;
  /** A fault of the gateway itself (an exception while handling a request); warn when absent. */
  error?(fields: Record<string, unknown>, message: string): void;
}

/** The event log of a data plane thread: pino on stdout, lines below `level` left out. */
export function stdoutEventLog(level: LogLevel = "info"): EventLog {
  const logger = componentLogger("meshgate-data-plane", level);
  return {
    warn: (fields, message) => logger.warn(fields, message),
    error: (fields, message) => logger.error(fields, message),
  };
}
