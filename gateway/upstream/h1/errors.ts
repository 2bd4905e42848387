// Errors of the h1 client carry a `code`, which is what the proxy classifies failures on. Where
// undici has a name for the same failure the code is undici's, so both clients read alike.

export const CONNECT_TIMEOUT = "UND_ERR_CONNECT_TIMEOUT";
export const SOCKET = "UND_ERR_SOCKET";
export const MALFORMED = "HPE_INVALID";
export const HEADERS_OVERFLOW = "UND_ERR_HEADERS_OVERFLOW";
export const LENGTH_MISMATCH = "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH";
export const INVALID_ARG = "UND_ERR_INVALID_ARG";
export const CLOSED = "UND_ERR_CLOSED";
export const DESTROYED = "UND_ERR_DESTROYED";

export class H1ClientError extends Error {
  constructor(
    message: string,
    readonly code: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "H1ClientError";
  }
}
