// The controller's connection to the Kubernetes API: credentials from a kubeconfig or the pod's
// service account (kubeconfig.ts), and plain JSON requests and watch streams over one keep-alive
// agent (one TLS handshake, not one per request).
//
// client-node's own Watch cannot be aborted before the server answers (its AbortController is
// returned only after the response head) and its ListWatch cache keeps whole objects; a reflector
// here needs both a bounded wait and only the parsed fields, so it speaks HTTP itself.
import { Agent, request, type RequestOptions } from "node:https";
import { request as plainRequest, Agent as PlainAgent } from "node:http";
import { createInterface } from "node:readline";
import { type KubeCredentials, loadCredentials } from "./kubeconfig.js";

export interface KubeClientOptions {
  /** A kubeconfig file; absent: $KUBECONFIG, ~/.kube/config, or the pod's service account. */
  kubeconfig?: string;
  /** How long a plain request may take, head and body (default 30 s). */
  requestTimeoutMs?: number;
}

/** The API server answered with an error status (or a watch ERROR event carried one). */
export class KubeApiError extends Error {
  /** The Kubernetes Status fields, where client-node's errors keep them. */
  readonly body: { message: string; reason: string };

  constructor(
    readonly status: number,
    message: string,
    readonly reason = "",
  ) {
    super(message);
    this.body = { message, reason };
  }

  /** The HTTP status under the name client-node's errors give it. */
  get code(): number {
    return this.status;
  }
}

export interface WatchHandle {
  /** Ends the stream; `done` is then called once with no error. */
  abort(): void;
}

export interface WatchEvent {
  type: string;
  object: unknown;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class KubeClient {
  readonly credentials: KubeCredentials;
  readonly server: URL;
  private readonly agent: Agent | PlainAgent;
  private readonly timeoutMs: number;

  constructor(options: KubeClientOptions) {
    this.credentials = loadCredentials(options.kubeconfig);
    this.server = this.credentials.server;
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.agent =
      this.server.protocol === "http:"
        ? new PlainAgent({ keepAlive: true, maxSockets: 16 })
        : new Agent({ keepAlive: true, maxSockets: 16 });
  }

  /** Request options with the current credentials (a token file is read again when it rotates). */
  private async options(method: string, path: string, headers: Record<string, string>): Promise<RequestOptions> {
    const url = new URL(path, this.server);
    return {
      method,
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port,
      path: url.pathname + url.search,
      headers: { accept: "application/json", ...(await this.credentials.headers()), ...headers },
      agent: this.agent,
      ...this.credentials.tls,
    };
  }

  /**
   * One JSON request; rejects with KubeApiError for an error status, Error for a network failure
   * or an abort (`signal`).
   */
  async json(method: string, path: string, body?: unknown, contentType = "application/json", signal?: AbortSignal): Promise<unknown> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const opts = await this.options(method, path, payload === undefined ? {} : { "content-type": contentType });
    if (signal !== undefined) opts.signal = signal;
    return new Promise((resolve, reject) => {
      const req = (this.server.protocol === "http:" ? plainRequest : request)(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 0;
          let parsed: unknown;
          try {
            parsed = text === "" ? undefined : JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          if (status >= 200 && status < 300) resolve(parsed);
          else reject(apiError(status, parsed, text));
        });
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer in ${this.timeoutMs} ms`)));
      req.on("error", reject);
      req.end(payload);
    });
  }

  /**
   * A watch stream: `onEvent` per line, `done` once when it ends (error undefined for a clean end
   * or an abort). `idleMs`: the stream is cut when nothing (events or bookmarks) arrives that long.
   */
  watch(
    path: string,
    onEvent: (event: WatchEvent) => void,
    done: (error?: Error) => void,
    idleMs: number,
  ): WatchHandle {
    let finished = false;
    let aborted = false;
    let req: ReturnType<typeof request> | undefined;
    const finish = (error?: Error) => {
      if (finished) return;
      finished = true;
      req?.destroy();
      done(aborted ? undefined : error);
    };
    this.options("GET", path, {}).then(
      (opts) => {
        if (finished) return;
        req = (this.server.protocol === "http:" ? plainRequest : request)(opts, (res) => {
          const status = res.statusCode ?? 0;
          if (status !== 200) {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8");
              let parsed: unknown;
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = undefined;
              }
              finish(apiError(status, parsed, text));
            });
            res.on("error", finish);
            return;
          }
          const lines = createInterface({ input: res, crlfDelay: Infinity });
          // readline re-emits its input's errors ("aborted" when the server goes away).
          lines.on("error", finish);
          lines.on("line", (line) => {
            if (finished || line === "") return;
            let event: WatchEvent;
            try {
              event = JSON.parse(line) as WatchEvent;
            } catch {
              finish(new Error("watch stream: a line that is not JSON"));
              return;
            }
            onEvent(event);
          });
          res.on("error", finish);
          res.on("end", () => finish());
          res.on("close", () => finish());
        });
        req.setTimeout(idleMs, () => req?.destroy(new Error(`watch ${path}: nothing for ${idleMs} ms`)));
        req.on("error", finish);
        req.end();
      },
      (err: Error) => finish(err),
    );
    return {
      abort() {
        aborted = true;
        finish();
      },
    };
  }

  close(): void {
    this.agent.destroy();
  }
}

function apiError(status: number, parsed: unknown, text: string): KubeApiError {
  const body = typeof parsed === "object" && parsed !== null ? (parsed as { message?: unknown; reason?: unknown }) : {};
  const message = typeof body.message === "string" ? body.message : text.slice(0, 200) || `HTTP ${status}`;
  return new KubeApiError(status, message, typeof body.reason === "string" ? body.reason : "");
}

/** A watch ERROR event's Status object as an error (410 Gone: the resourceVersion is too old). */
export function statusError(object: unknown): KubeApiError {
  const s = typeof object === "object" && object !== null ? (object as { code?: unknown; message?: unknown; reason?: unknown }) : {};
  return new KubeApiError(
    typeof s.code === "number" ? s.code : 500,
    typeof s.message === "string" ? s.message : "watch error",
    typeof s.reason === "string" ? s.reason : "",
  );
}
