// JSON access log, one line per request, written asynchronously to stdout (or a file).
import pino from "pino";

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

export class AccessLog {
  private readonly logger: pino.Logger;

  /** `destination` is a file path or 1 for stdout. */
  constructor(destination: string | 1) {
    const stream = pino.destination({ dest: destination, sync: false, minLength: 0 });
    this.logger = pino({ base: null, messageKey: "msg", timestamp: pino.stdTimeFunctions.isoTime }, stream);
    this.stream = stream;
  }

  private readonly stream: ReturnType<typeof pino.destination>;

  write(
    r: AccessLogEntrySource,
    status: number,
    cluster: string,
    upstream: string,
    attempts: number,
    seconds: number,
  ): void {
    this.logger.info({
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
    });
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
