// JSON access log, one line per request, written asynchronously to stdout (or a file).
import pino from "pino";
import { LINE_OPTIONS, stdoutLines } from "./log-lines.js";

export interface AccessLogEntrySource {
  readonly requestId: string;
  readonly sourceIp: string;
  readonly method: string;
  readonly host: string;
  readonly path: string;
  readonly gateway: string;
  readonly listener: string;
  readonly route: string;
}

/**
 * Why a request ended without its whole answer although neither side gave up: "drain", the drain
 * timeout closed its connection at shutdown (Envoy's response flag DC, nginx's shutdown timeout).
 */
export type CutReason = "drain";

export class AccessLog {
  private readonly logger: pino.Logger;
  private readonly stream: ReturnType<typeof pino.destination>;

  /** `destination` is a file path or 1 for stdout (shared with the process's other logs, so lines stay whole). */
  constructor(destination: string | 1) {
    this.stream = destination === 1 ? stdoutLines() : pino.destination({ dest: destination, sync: false, minLength: 0 });
    // Every request is logged whatever --log-level says: the access log is switched by --access-log.
    this.logger = pino({ ...LINE_OPTIONS, base: null, messageKey: "msg", level: "info" }, this.stream);
  }

  /**
   * `status` is the code the client was sent; 0 when it got no response head (a cut request, as
   * Envoy logs it). A cut request's line says so (`cut`) and is a warning.
   */
  write(
    r: AccessLogEntrySource,
    status: number,
    cluster: string,
    upstream: string,
    attempts: number,
    seconds: number,
    cut?: CutReason,
  ): void {
    const entry = {
      type: "access",
      request_id: r.requestId,
      client: r.sourceIp,
      method: r.method,
      host: r.host,
      path: r.path,
      status,
      gateway: r.gateway,
      listener: r.listener,
      route: r.route,
      cluster,
      upstream,
      attempts,
      duration_ms: Math.round(seconds * 1e6) / 1e3,
    };
    if (cut === undefined) this.logger.info(entry);
    else this.logger.warn({ ...entry, cut });
  }

  flush(): void {
    this.stream.flushSync();
  }
}

/** The access log for a setting: "off", "stdout" or a file path. */
export function accessLogFor(setting: string): AccessLog | undefined {
  if (setting === "off") return undefined;
  return new AccessLog(setting === "stdout" ? 1 : setting);
}
