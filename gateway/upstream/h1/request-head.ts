// Serialises a request head into one latin1 string, so a small request leaves in one write.
import { H1ClientError, INVALID_ARG, LENGTH_MISMATCH } from "./errors.js";
import { parseContentLength } from "./header-values.js";

/** How the body goes on the wire, decided while the head is built. */
export interface BodyFraming {
  /** Bytes the body must have, or -1 when it is chunked (or there is none). */
  contentLength: number;
  chunked: boolean;
}

const NOT_BYTE = /[\u0100-\uffff]/;

function count(text: string, char: string): number {
  let n = 0;
  for (let at = text.indexOf(char); at !== -1; at = text.indexOf(char, at + 1)) n++;
  return n;
}

/**
 * The head for `method path` with `headers` as given. `defaultHost` is sent only when the
 * caller gave no Host. With a body and no Content-Length the body is chunked. Returns an
 * error, not a head, when a CR or LF hides in the method, path or any header, since that would
 * let a header value start a request of its own.
 */
export function serializeRequestHead(
  method: string,
  path: string,
  headers: Record<string, string>,
  defaultHost: string,
  hasBody: boolean,
  framing: BodyFraming,
): string | H1ClientError {
  let head = `${method} ${path} HTTP/1.1\r\n`;
  let lines = 2; // the request line and the empty line at the end
  let hasHost = false;
  let contentLength = -1;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    head += `${name}: ${value}\r\n`;
    lines++;
    if (name.length === 4) {
      if (name.toLowerCase() === "host") hasHost = true;
    } else if (name.length === 14 && name.toLowerCase() === "content-length") {
      contentLength = parseContentLength(value);
      if (contentLength < 0) return new H1ClientError(`invalid content-length: ${value}`, INVALID_ARG);
    }
  }
  if (!hasHost) {
    head += `host: ${defaultHost}\r\n`;
    lines++;
  }
  framing.contentLength = contentLength;
  framing.chunked = false;
  if (hasBody) {
    if (contentLength < 0) {
      head += "transfer-encoding: chunked\r\n";
      lines++;
      framing.chunked = true;
    }
  } else if (contentLength > 0) {
    return new H1ClientError("content-length given without a body", LENGTH_MISMATCH);
  } else if (contentLength < 0 && (method === "POST" || method === "PUT" || method === "PATCH")) {
    // Some servers answer 411 to a body-carrying method that does not state its length.
    head += "content-length: 0\r\n";
    lines++;
  }
  head += "\r\n";
  // Every legitimate CR and LF is a line end we wrote: any extra one came from the caller.
  if (count(head, "\n") !== lines || count(head, "\r") !== lines) {
    return new H1ClientError("CR or LF in the request line or a header", INVALID_ARG);
  }
  // The head is written as latin1, one byte per char: a char above 0xFF would lose its high
  // byte (U+010D became CR). Values reach here as bytes (http/wire-text.ts), so this only
  // guards; a pure-ASCII head (UTF-8 length = length) needs no scan.
  if (Buffer.byteLength(head, "utf8") !== head.length && NOT_BYTE.test(head)) {
    return new H1ClientError("a char above 0xFF in the request head", INVALID_ARG);
  }
  return head;
}
