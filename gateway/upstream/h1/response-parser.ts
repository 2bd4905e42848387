// Incremental HTTP/1.x response parser, one per connection and reset for each request. It takes
// the socket's buffers as they come, split at any byte, copies only a head that straddles two
// reads, and hands body bytes on as views of the socket's own buffers.
import type { IncomingHttpHeaders } from "node:http";
import { H1ClientError, HEADERS_OVERFLOW, MALFORMED } from "./errors.js";
import { chunkedIsFinal, hasToken, parseContentLength } from "./header-values.js";

export interface ResponseSink {
  onHead(status: number, reason: string, headers: IncomingHttpHeaders): void;
  onBody(chunk: Buffer): void;
  /** The message is complete; `execute` returns right after its last byte. */
  onComplete(trailers: IncomingHttpHeaders): void;
  /** Read after every callback: when true, `execute` returns where it stopped. */
  readonly halted: boolean;
}

const enum Phase {
  Head,
  Length,
  UntilClose,
  ChunkSize,
  ChunkExtension,
  ChunkSizeLf,
  ChunkData,
  ChunkDataCr,
  ChunkDataLf,
  Trailers,
  Done,
  Failed,
}

const enum HeadKind {
  Invalid,
  Final,
  Interim,
}

const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
const CR = 13;
const LF = 10;
const SP = 32;
const HT = 9;
const SEMICOLON = 59;
const DEL = 127;
// 12 hex digits is 256 TiB: sizes stay exact in a double.
const MAX_CHUNK_SIZE_DIGITS = 12;
// A partial-head buffer above this size is dropped after use rather than kept per connection.
const KEEP_PARTIAL_BYTES = 4096;

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

function view(buf: Buffer, from: number, to: number): Buffer {
  return from === 0 && to === buf.length ? buf : buf.subarray(from, to);
}

export class ResponseParser {
  /** Set with the head: whether the connection may carry another request after this one. */
  keepAlive = false;
  /** The last response's `Keep-Alive` header, if it had one. */
  keepAliveHeader: string | undefined = undefined;
  /**
   * Set with the head: whether it holds bytes above 0x7F. Their values must reach the client as
   * bytes; without any, every value is ASCII and can be handed on as it is.
   */
  highBytes = false;
  /** Why `execute` returned -1. */
  error: H1ClientError | null = null;
  private phase = Phase.Head;
  private headRequest = false;
  private remaining = 0;
  private sizeDigits = 0;
  private extensionBytes = 0;
  private partial: Buffer | null = null;
  private partialLength = 0;
  private trailerText = "";
  private trailerLineStart = 0;

  constructor(
    private readonly sink: ResponseSink,
    private readonly maxHeadBytes: number,
  ) {}

  /** Prepares for the response to the next request; a HEAD request's response has no body. */
  reset(headRequest: boolean): void {
    this.phase = Phase.Head;
    this.headRequest = headRequest;
    this.keepAlive = false;
    this.keepAliveHeader = undefined;
    this.error = null;
    this.remaining = 0;
    this.partialLength = 0;
  }

  get done(): boolean {
    return this.phase === Phase.Done;
  }

  /**
   * Parses `buf` from `start`. Returns where it stopped: the end of `buf`, the end of the
   * message (`done`), or the point where the sink halted. -1 means malformed (see `error`).
   * A halted parse continues with the rest of the buffer, or an empty one.
   */
  execute(buf: Buffer, start: number): number {
    const end = buf.length;
    const sink = this.sink;
    let pos = start;
    for (;;) {
      switch (this.phase) {
        case Phase.Head: {
          if (pos >= end) return pos;
          const next = this.partialLength === 0 ? this.headInBuffer(buf, pos) : this.headAcrossReads(buf, pos);
          if (next < 0) return -1;
          pos = next;
          if (this.phase === Phase.Head) continue; // incomplete, or an interim 1xx skipped
          break;
        }
        case Phase.Length: {
          if (this.remaining === 0) {
            this.complete({});
            return pos;
          }
          if (pos >= end) return pos;
          const take = Math.min(end - pos, this.remaining);
          this.remaining -= take;
          sink.onBody(view(buf, pos, pos + take));
          pos += take;
          break;
        }
        case Phase.UntilClose: {
          if (pos >= end) return pos;
          sink.onBody(view(buf, pos, end));
          pos = end;
          break;
        }
        case Phase.ChunkSize: {
          while (pos < end) {
            const code = buf[pos] as number;
            const digit = hexValue(code);
            if (digit >= 0) {
              if (++this.sizeDigits > MAX_CHUNK_SIZE_DIGITS) return this.fail("chunk size too large");
              this.remaining = this.remaining * 16 + digit;
              pos++;
              continue;
            }
            if (this.sizeDigits === 0) return this.fail("chunk size missing");
            if (code === CR) this.phase = Phase.ChunkSizeLf;
            else if (code === SEMICOLON || code === SP || code === HT) this.phase = Phase.ChunkExtension;
            else return this.fail("bad chunk size");
            pos++;
            break;
          }
          if (pos >= end) return pos;
          continue;
        }
        case Phase.ChunkExtension: {
          // Extensions carry nothing a proxy uses; they are skipped, within the head size limit.
          // Not blindly up to the CR: a parser that ends the size line at a bare LF inside an
          // extension would read the body from another byte than this one, so control bytes
          // (LF above all) are refused, as llhttp does.
          let stop = pos;
          while (stop < end) {
            const code = buf[stop] as number;
            if (code === CR) break;
            if (isControl(code)) return this.fail("control character in a chunk extension");
            stop++;
          }
          this.extensionBytes += stop - pos;
          if (this.extensionBytes > this.maxHeadBytes) return this.fail("chunk extension too large");
          if (stop === end) return end;
          pos = stop + 1;
          this.phase = Phase.ChunkSizeLf;
          continue;
        }
        case Phase.ChunkSizeLf: {
          if (pos >= end) return pos;
          if (buf[pos] !== LF) return this.fail("bad chunk size line");
          pos++;
          if (this.remaining === 0) {
            this.phase = Phase.Trailers;
            this.trailerText = "";
            this.trailerLineStart = 0;
          } else {
            this.phase = Phase.ChunkData;
          }
          continue;
        }
        case Phase.ChunkData: {
          if (pos >= end) return pos;
          const take = Math.min(end - pos, this.remaining);
          this.remaining -= take;
          if (this.remaining === 0) this.phase = Phase.ChunkDataCr;
          sink.onBody(view(buf, pos, pos + take));
          pos += take;
          break;
        }
        case Phase.ChunkDataCr: {
          if (pos >= end) return pos;
          if (buf[pos] !== CR) return this.fail("chunk data longer than its size");
          pos++;
          this.phase = Phase.ChunkDataLf;
          continue;
        }
        case Phase.ChunkDataLf: {
          if (pos >= end) return pos;
          if (buf[pos] !== LF) return this.fail("chunk data longer than its size");
          pos++;
          this.phase = Phase.ChunkSize;
          this.sizeDigits = 0;
          this.extensionBytes = 0;
          continue;
        }
        case Phase.Trailers: {
          if (pos >= end) return pos;
          const next = this.trailerBytes(buf, pos);
          if (next < 0 || this.done) return next;
          pos = next;
          continue;
        }
        case Phase.Done:
          return pos;
        case Phase.Failed:
          return -1;
      }
      if (sink.halted) return pos;
    }
  }

  /** The peer closed the connection: completes a read-until-close body. False: it was cut short. */
  finishAtEof(): boolean {
    if (this.phase !== Phase.UntilClose) return false;
    this.complete({});
    return true;
  }

  private complete(trailers: IncomingHttpHeaders): void {
    this.phase = Phase.Done;
    this.sink.onComplete(trailers);
  }

  private fail(what: string, code = MALFORMED): -1 {
    this.phase = Phase.Failed;
    this.error = new H1ClientError(`malformed upstream response: ${what}`, code);
    return -1;
  }

  private overflow(): -1 {
    this.fail("response head too large", HEADERS_OVERFLOW);
    return -1;
  }

  /** The common case: the head starts in this buffer. */
  private headInBuffer(buf: Buffer, pos: number): number {
    const at = buf.indexOf(HEAD_END, pos);
    if (at === -1) {
      if (buf.length - pos >= this.maxHeadBytes) return this.overflow();
      this.appendPartial(buf, pos, buf.length);
      return buf.length;
    }
    const headEnd = at + 4;
    if (headEnd - pos > this.maxHeadBytes) return this.overflow();
    if (hasControlByte(buf, afterStatusLine(buf, pos, at), at)) return this.fail("control character in a header");
    return this.parseHead(buf.toString("latin1", pos, at)) === HeadKind.Invalid ? -1 : headEnd;
  }

  /** The head began in an earlier buffer: collect into the partial buffer until it ends. */
  private headAcrossReads(buf: Buffer, pos: number): number {
    const before = this.partialLength;
    const take = Math.min(buf.length - pos, this.maxHeadBytes - before);
    this.appendPartial(buf, pos, pos + take);
    const partial = this.partial as Buffer;
    // The terminator may straddle the boundary: look from three bytes before it.
    const at = partial.subarray(0, this.partialLength).indexOf(HEAD_END, Math.max(0, before - 3));
    if (at === -1) {
      if (this.partialLength >= this.maxHeadBytes) return this.overflow();
      return pos + take;
    }
    const headEnd = at + 4;
    this.partialLength = 0;
    if (hasControlByte(partial, afterStatusLine(partial, 0, at), at)) return this.fail("control character in a header");
    const text = partial.toString("latin1", 0, at);
    if (partial.length > KEEP_PARTIAL_BYTES) this.partial = null;
    return this.parseHead(text) === HeadKind.Invalid ? -1 : pos + (headEnd - before);
  }

  private appendPartial(buf: Buffer, from: number, to: number): void {
    const need = this.partialLength + (to - from);
    let store = this.partial;
    if (store === null || store.length < need) {
      const size = Math.min(this.maxHeadBytes, Math.max(need, 1024, (store?.length ?? 0) * 2));
      const grown = Buffer.allocUnsafe(size);
      if (store !== null) store.copy(grown, 0, 0, this.partialLength);
      store = grown;
      this.partial = grown;
    }
    buf.copy(store, this.partialLength, from, to);
    this.partialLength = need;
  }

  /** `text` is the head without its final CRLF CRLF. */
  private parseHead(text: string): HeadKind {
    const lf = text.indexOf("\n");
    const lineEnd = lf === -1 ? text.length : lf - 1;
    if (lf !== -1 && text.charCodeAt(lineEnd) !== CR) return this.badHead("bare LF");
    const cr = text.indexOf("\r");
    if (cr !== -1 && cr < lineEnd) return this.badHead("bare CR in the status line");
    if (lineEnd < 12 || !text.startsWith("HTTP/1.")) return this.badHead("bad status line");
    const minor = text.charCodeAt(7) - 48;
    const s1 = text.charCodeAt(9) - 48;
    const s2 = text.charCodeAt(10) - 48;
    const s3 = text.charCodeAt(11) - 48;
    if (
      (minor !== 0 && minor !== 1) ||
      text.charCodeAt(8) !== SP ||
      s1 < 1 ||
      s1 > 9 ||
      s2 < 0 ||
      s2 > 9 ||
      s3 < 0 ||
      s3 > 9 ||
      (lineEnd > 12 && text.charCodeAt(12) !== SP)
    ) {
      return this.badHead("bad status line");
    }
    const status = s1 * 100 + s2 * 10 + s3;
    // Nothing asked to switch protocols (hop-by-hop headers are stripped), so 101 is an error.
    if (status === 101) return this.badHead("unexpected 101 Switching Protocols");
    // No prototype: a header named `constructor` or `__proto__` is a header like any other.
    const headers = new HeaderMap();
    if (lf !== -1) {
      // An interim head's fields are dropped, but checked all the same: the head ends at the
      // first CRLF CRLF only if every line in it is a well-formed field line. A bare LF there
      // would end it earlier for a lenient parser, and hide a head from this one.
      const problem = parseFieldLines(text, lf + 1, headers, true);
      if (problem !== null) return this.badHead(problem);
    }
    if (status < 200) {
      // An interim response that ends the connection (Connection: close in 1.1, no keep-alive in
      // 1.0, which has no 1xx at all) is the last message for llhttp, which refuses whatever
      // follows: reading a final response after it would frame the stream differently.
      const connection = headers["connection"] ?? "";
      if (minor === 0 ? !hasToken(connection, "keep-alive") : hasToken(connection, "close")) {
        return this.badHead("interim response that closes the connection");
      }
      return HeadKind.Interim;
    }
    const reason = lineEnd > 13 ? text.slice(13, lineEnd) : "";
    // One char per byte (latin1): the UTF-8 length differs exactly when a byte is above 0x7F.
    this.highBytes = Buffer.byteLength(text, "utf8") !== text.length;
    if (!this.frame(minor === 1, status, headers)) return HeadKind.Invalid;
    this.sink.onHead(status, reason, headers);
    return HeadKind.Final;
  }

  private badHead(what: string): HeadKind.Invalid {
    this.fail(what);
    return HeadKind.Invalid;
  }

  /** Chooses the body framing (RFC 9112 section 6.3) and whether the connection is reusable. */
  private frame(http11: boolean, status: number, headers: IncomingHttpHeaders): boolean {
    const connection = headers["connection"];
    const transferEncoding = headers["transfer-encoding"];
    const contentLength = headers["content-length"];
    this.keepAliveHeader = headers["keep-alive"] as string | undefined;
    let keepAlive = http11 && (connection === undefined || !hasToken(connection, "close"));
    if (this.headRequest || status === 204 || status === 304) {
      this.phase = Phase.Length;
      this.remaining = 0;
    } else if (transferEncoding !== undefined) {
      // With both headers, Transfer-Encoding wins; the message may be a smuggling attempt,
      // so the connection is not trusted with another request.
      if (contentLength !== undefined) keepAlive = false;
      if (chunkedIsFinal(transferEncoding)) {
        this.phase = Phase.ChunkSize;
        this.remaining = 0;
        this.sizeDigits = 0;
        this.extensionBytes = 0;
      } else {
        this.phase = Phase.UntilClose;
        keepAlive = false;
      }
    } else if (contentLength !== undefined) {
      const length = parseContentLength(contentLength);
      if (length < 0) {
        this.fail("invalid content-length");
        return false;
      }
      this.phase = Phase.Length;
      this.remaining = length;
    } else {
      this.phase = Phase.UntilClose;
      keepAlive = false;
    }
    this.keepAlive = keepAlive;
    return true;
  }

  /** Collects trailer lines up to the empty line that ends the chunked message. */
  private trailerBytes(buf: Buffer, pos: number): number {
    const lf = buf.indexOf(LF, pos);
    const stop = lf === -1 ? buf.length : lf + 1;
    this.trailerText += buf.toString("latin1", pos, stop);
    if (this.trailerText.length > this.maxHeadBytes) return this.overflow();
    if (lf === -1) return stop;
    const text = this.trailerText;
    const lineLength = text.length - this.trailerLineStart;
    if (lineLength > 2) {
      this.trailerLineStart = text.length;
      return stop;
    }
    if (lineLength !== 2 || text.charCodeAt(text.length - 2) !== CR) return this.fail("bad trailer line");
    const trailers = new HeaderMap();
    if (this.trailerLineStart > 0) {
      // With the last line's end, which must be a CRLF too.
      const problem = parseFieldLines(text.slice(0, this.trailerLineStart), 0, trailers);
      if (problem !== null) return this.fail(problem);
    }
    this.trailerText = "";
    this.complete(trailers);
    return stop;
  }
}

/**
 * Adds the `name: value` lines of `text` from `from` on to `headers`. Returns what is wrong, or
 * null. Lines end in CRLF; a CR or LF anywhere else is refused, since header values go on to
 * the client's response.
 */
/**
 * A header map that inherits nothing: its prototype is an empty object without a prototype, so
 * a header named `constructor` or `__proto__` is a key like any other. Made with `new` rather
 * than Object.create(null), which gives a slower dictionary-mode object (measured).
 */
export const HeaderMap = function HeaderMap() {} as unknown as new () => IncomingHttpHeaders;
HeaderMap.prototype = Object.create(null) as object;

export function parseFieldLines(
  text: string,
  from: number,
  headers: IncomingHttpHeaders,
  /** The caller has checked the bytes for controls already (hasControlByte, the faster way). */
  controlsChecked = false,
): string | null {
  const length = text.length;
  let pos = from;
  while (pos < length) {
    const lf = text.indexOf("\n", pos);
    let lineEnd = length;
    if (lf !== -1) {
      lineEnd = lf - 1;
      if (lineEnd < pos || text.charCodeAt(lineEnd) !== CR) return "bare LF";
    }
    const cr = text.indexOf("\r", pos);
    if (cr !== -1 && cr < lineEnd) return "bare CR in a header line";
    const first = text.charCodeAt(pos);
    if (first === SP || first === HT) return "obsolete line folding";
    const colon = text.indexOf(":", pos);
    if (colon <= pos || colon >= lineEnd) return "header line without a name and colon";
    const last = text.charCodeAt(colon - 1);
    if (last === SP || last === HT) return "space before a header colon";
    // Names and values go on to the client: a name that is not a token, or a value with a NUL or
    // another control byte, is one that other parsers read differently (or refuse, as llhttp does).
    if (!isToken(text, pos, colon)) return "header name that is not a token";
    let valueStart = colon + 1;
    let valueEnd = lineEnd;
    while (valueStart < valueEnd && isSpace(text.charCodeAt(valueStart))) valueStart++;
    while (valueEnd > valueStart && isSpace(text.charCodeAt(valueEnd - 1))) valueEnd--;
    if (!controlsChecked) {
      for (let i = valueStart; i < valueEnd; i++) {
        if (isControl(text.charCodeAt(i))) return "control character in a header value";
      }
    }
    if (!addField(headers, text.slice(pos, colon).toLowerCase(), text.slice(valueStart, valueEnd))) {
      return "conflicting content-length";
    }
    pos = lf === -1 ? length : lf + 1;
  }
  return null;
}

function isSpace(code: number): boolean {
  return code === SP || code === HT;
}

/**
 * Whether bytes `from` to `to` hold a control byte other than HTAB, CR and LF (those are checked
 * where lines are split), or DEL: RFC 9110 5.5 allows none in a field value, and llhttp refuses
 * them. On the buffer, before the head becomes a string: twice as fast as over the string.
 */
function hasControlByte(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const code = buf[i] as number;
    if ((code < SP && code !== HT && code !== CR && code !== LF) || code === DEL) return true;
  }
  return false;
}

/** Where the field lines of a head from `from` to `to` start: the reason phrase is not relayed. */
function afterStatusLine(buf: Buffer, from: number, to: number): number {
  const lf = buf.indexOf(LF, from);
  return lf === -1 || lf > to ? to : lf;
}

/** A control character other than HTAB (RFC 9110 5.5: not allowed in a field value). */
function isControl(code: number): boolean {
  return (code < SP && code !== HT) || code === DEL;
}

// tchar (RFC 9110 5.6.2), by char code.
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  TCHAR[c.charCodeAt(0)] = 1;
}

function isToken(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    if (code >= 128 || TCHAR[code] !== 1) return false;
  }
  return to > from;
}

/** Set-Cookie stays a list; other repeats are joined with ", "; differing lengths are refused. */
function addField(headers: IncomingHttpHeaders, name: string, value: string): boolean {
  if (name === "set-cookie") {
    const cookies = headers["set-cookie"];
    if (cookies === undefined) headers["set-cookie"] = [value];
    else cookies.push(value);
    return true;
  }
  const prior = headers[name];
  if (prior === undefined) headers[name] = value;
  else if (name === "content-length") return prior === value;
  else headers[name] = `${prior}, ${value}`;
  return true;
}
