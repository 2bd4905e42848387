// What went wrong talking to the API server, in the few words a metric label and a log line need.
// The controller's client (and client-node 1.4) throw errors with a numeric `code` and a `body`
// for HTTP errors; transport failures carry a string `code` (ECONNREFUSED) or are aborts.

export const ERROR_REASONS = [
  "forbidden",
  "unauthorized",
  "conflict",
  "throttled",
  "server-error",
  "rejected",
  "unreachable",
  "timeout",
  "unknown",
] as const;
export type ErrorReason = (typeof ERROR_REASONS)[number];

export interface ApiFailure {
  reason: ErrorReason;
  /** HTTP status when the server answered. */
  status?: number;
  /** The server's Status message or the transport error; never request headers or credentials. */
  message: string;
}

export function httpStatusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

export function describeApiError(error: unknown): ApiFailure {
  const status = httpStatusOf(error);
  if (status !== undefined) return { reason: reasonForStatus(status), status, message: statusMessage(error, status) };
  const name = (error as { name?: unknown } | null)?.name;
  const message = error instanceof Error ? error.message : String(error);
  if (name === "AbortError" || name === "TimeoutError") return { reason: "timeout", message };
  // Transport failures: node-fetch's FetchError, or a socket error's string code (ECONNREFUSED, ...).
  if (name === "FetchError" || typeof (error as { code?: unknown } | null)?.code === "string") return { reason: "unreachable", message };
  return { reason: "unknown", message };
}

function reasonForStatus(status: number): ErrorReason {
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 409) return "conflict";
  if (status === 429) return "throttled";
  if (status >= 500) return "server-error";
  return "rejected";
}

/** The `message` of the Kubernetes Status in the body, else the HTTP status alone. */
function statusMessage(error: unknown, status: number): string {
  let body = (error as { body?: unknown }).body;
  if (typeof body === "string") {
    const text = body;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      return `HTTP ${status}: ${text.slice(0, 300)}`;
    }
  }
  const message = (body as { message?: unknown } | null | undefined)?.message;
  return typeof message === "string" && message !== "" ? `HTTP ${status}: ${message}` : `HTTP ${status}`;
}
