// Data-plane events worth an operator's eye that are not requests (those go to the access log):
// JSON lines on stdout, written asynchronously, like the supervisor's own log.
import pino from "pino";

export interface EventLog {
  /** One event; `fields` must hold no secrets (request bodies, credentials). */
  warn(fields: Record<string, unknown>, message: string): void;
  /** A fault of the gateway itself (an exception while handling a request); warn when absent. */
  error?(fields: Record<string, unknown>, message: string): void;
}

/** The event log of a data plane thread: pino on stdout. */
export function stdoutEventLog(): EventLog {
  const logger = pino(
    { base: { component: "meshgate-data-plane" }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 1, sync: false, minLength: 0 }),
  );
  return {
    warn: (fields, message) => logger.warn(fields, message),
    error: (fields, message) => logger.error(fields, message),
  };
}
