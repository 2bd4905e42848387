// Reading the few response header values that decide framing and connection reuse. Plain loops
// over char codes: these run for every response.

const SP = 32;
const HT = 9;
const COMMA = 44;

function isSpace(code: number): boolean {
  return code === SP || code === HT;
}

function isListBoundary(code: number): boolean {
  return code === COMMA || code === SP || code === HT;
}

/** Whether a comma-separated header value (e.g. `Connection`) holds `token`, case-insensitively. */
export function hasToken(list: string, token: string): boolean {
  const value = list.toLowerCase();
  let at = value.indexOf(token);
  while (at !== -1) {
    const before = at === 0 ? COMMA : value.charCodeAt(at - 1);
    const afterAt = at + token.length;
    const after = afterAt >= value.length ? COMMA : value.charCodeAt(afterAt);
    if (isListBoundary(before) && isListBoundary(after)) return true;
    at = value.indexOf(token, at + 1);
  }
  return false;
}

/** Whether `chunked` is the final transfer coding, which is what makes a response chunked. */
export function chunkedIsFinal(transferEncoding: string): boolean {
  const value = transferEncoding.toLowerCase();
  let end = value.length;
  while (end > 0 && isSpace(value.charCodeAt(end - 1))) end--;
  if (end < 7 || !value.startsWith("chunked", end - 7)) return false;
  let i = end - 8;
  while (i >= 0 && isSpace(value.charCodeAt(i))) i--;
  return i < 0 || value.charCodeAt(i) === COMMA;
}

/** A Content-Length value as a number, or -1 unless it is plain digits (at most 15 of them). */
export function parseContentLength(value: string): number {
  const length = value.length;
  if (length === 0 || length > 15) return -1;
  let n = 0;
  for (let i = 0; i < length; i++) {
    const digit = value.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

/** The `timeout=` of a `Keep-Alive` header in milliseconds, or -1 when it has none. */
export function keepAliveTimeoutMs(value: string): number {
  const lower = value.toLowerCase();
  const at = lower.indexOf("timeout=");
  if (at === -1) return -1;
  let seconds = 0;
  let digits = 0;
  for (let i = at + 8; i < lower.length && digits < 9; i++, digits++) {
    const digit = lower.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    seconds = seconds * 10 + digit;
  }
  return digits === 0 ? -1 : seconds * 1000;
}
