// The response parser on its own: framing, heads and errors, fed whole and one byte at a time.
import type { IncomingHttpHeaders } from "node:http";
import test from "ava";
import { type ResponseSink, ResponseParser } from "../../../../gateway/upstream/h1/response-parser.js";

class Sink implements ResponseSink {
  status = 0;
  reason = "";
  headers: IncomingHttpHeaders = {};
  trailers: IncomingHttpHeaders | undefined;
  chunks: Buffer[] = [];
  heads = 0;
  halted = false;
  /** Halt after every body chunk, as a consumer that pauses each time would. */
  haltOnBody = false;

  onHead(status: number, reason: string, headers: IncomingHttpHeaders): void {
    this.heads++;
    this.status = status;
    this.reason = reason;
    this.headers = headers;
  }

  onBody(chunk: Buffer): void {
    this.chunks.push(chunk);
    if (this.haltOnBody) this.halted = true;
  }

  onComplete(trailers: IncomingHttpHeaders): void {
    this.trailers = trailers;
  }

  get body(): string {
    return Buffer.concat(this.chunks).toString("latin1");
  }
}

interface Parsed {
  sink: Sink;
  parser: ResponseParser;
  /** Bytes after the end of the message. */
  leftover: string;
  error: { code: string; message: string } | undefined;
}

/** Feeds `pieces` in order until the message ends or fails; halts are resumed at once. */
function feed(pieces: Buffer[], opts: { head?: boolean; max?: number; haltOnBody?: boolean } = {}): Parsed {
  const sink = new Sink();
  sink.haltOnBody = opts.haltOnBody ?? false;
  const parser = new ResponseParser(sink, opts.max ?? 64 * 1024);
  parser.reset(opts.head ?? false);
  let leftover = "";
  for (const piece of pieces) {
    let at = 0;
    for (;;) {
      const stop = parser.execute(piece, at);
      if (stop < 0) return { sink, parser, leftover, error: parser.error ?? undefined };
      if (parser.done) {
        leftover += piece.toString("latin1", stop);
        break;
      }
      if (stop === piece.length && !sink.halted) break;
      sink.halted = false;
      at = stop;
    }
  }
  return { sink, parser, leftover, error: undefined };
}

const whole = (text: string) => [Buffer.from(text, "latin1")];
const bytes = (text: string) => [...Buffer.from(text, "latin1")].map((b) => Buffer.of(b));

for (const [split, pieces] of [
  ["whole", whole],
  ["byte by byte", bytes],
] as const) {
  test(`content-length body, ${split}`, (t) => {
    const r = feed(pieces("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhelloEXTRA"));
    t.is(r.error, undefined);
    t.is(r.sink.status, 200);
    t.is(r.sink.reason, "OK");
    t.is(r.sink.headers["x-a"], "1");
    t.is(r.sink.body, "hello");
    t.deepEqual(r.sink.trailers, {});
    t.true(r.parser.done);
    t.true(r.parser.keepAlive);
    t.is(r.leftover, "EXTRA");
  });

  test(`chunked body with extensions and trailers, ${split}`, (t) => {
    const r = feed(
      pieces(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
          "5;name=value\r\nhello\r\n1 ; x\r\n \r\nA\r\n0123456789\r\n0\r\nX-Checksum: abc\r\nX-Two: 2\r\n\r\n",
      ),
    );
    t.is(r.error, undefined);
    t.is(r.sink.body, "hello 0123456789");
    t.deepEqual(r.sink.trailers, { "x-checksum": "abc", "x-two": "2" });
    t.true(r.parser.keepAlive);
    t.is(r.leftover, "");
  });

  test(`read-until-close body ends only at EOF, ${split}`, (t) => {
    const r = feed(pieces("HTTP/1.1 200 OK\r\n\r\nall of it"));
    t.is(r.error, undefined);
    t.false(r.parser.done);
    t.false(r.parser.keepAlive);
    t.true(r.parser.finishAtEof());
    t.is(r.sink.body, "all of it");
    t.deepEqual(r.sink.trailers, {});
  });

  test(`interim 100 and 103 responses are skipped, ${split}`, (t) => {
    const r = feed(
      pieces(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" +
          "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
      ),
    );
    t.is(r.sink.heads, 1);
    t.is(r.sink.status, 201);
    t.is(r.sink.headers["link"], undefined);
    t.is(r.sink.body, "ok");
  });
}

test("a content-length body arrives as views of the buffers read, not copies", (t) => {
  const input = Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody");
  const r = feed([input]);
  t.is(r.sink.chunks.length, 1);
  t.is(r.sink.chunks[0]!.buffer, input.buffer);
  const next = Buffer.from("more");
  const r2 = feed([Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nbody"), next]);
  t.is(r2.sink.chunks[1], next);
});

test("HEAD, 204 and 304 responses have no body whatever their headers say", (t) => {
  const head = feed(whole("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1"), { head: true });
  t.true(head.parser.done);
  t.is(head.sink.body, "");
  t.is(head.leftover, "HTTP/1.1");
  for (const status of [204, 304]) {
    const r = feed(whole(`HTTP/1.1 ${status} X\r\nTransfer-Encoding: chunked\r\n\r\n`));
    t.true(r.parser.done, String(status));
    t.true(r.parser.keepAlive);
    t.is(r.sink.chunks.length, 0);
  }
});

test("content-length 0 completes with the head", (t) => {
  const r = feed(whole("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
  t.true(r.parser.done);
  t.is(r.sink.body, "");
});

test("Transfer-Encoding with Content-Length: chunked wins and the connection is not reused", (t) => {
  const r = feed(
    whole("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"),
  );
  t.is(r.sink.body, "abcd");
  t.true(r.parser.done);
  t.false(r.parser.keepAlive);
});

test("a transfer coding other than a final chunked reads until close", (t) => {
  const r = feed(whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nraw"));
  t.false(r.parser.done);
  t.false(r.parser.keepAlive);
  t.is(r.sink.body, "raw");
});

test("Connection: close and HTTP/1.0 responses are not reusable", (t) => {
  const listed = "HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n";
  t.false(feed(whole(listed)).parser.keepAlive);
  t.false(feed(whole("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")).parser.keepAlive);
  t.true(feed(whole("HTTP/1.1 200 OK\r\nConnection: closed-caption\r\nContent-Length: 0\r\n\r\n")).parser.keepAlive);
});

test("header names are lower-cased, repeats joined, set-cookie kept as a list, values trimmed", (t) => {
  const r = feed(
    whole(
      "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Multi: one\r\nset-cookie: b=2\r\nX-MULTI:two \t\r\n" +
        "Content-Length: 0\r\nContent-Length: 0\r\nEmpty:\r\n__proto__: x\r\nConstructor: evil\r\n\r\n",
    ),
  );
  t.is(r.error, undefined);
  t.deepEqual(r.sink.headers["set-cookie"], ["a=1", "b=2"]);
  t.is(r.sink.headers["x-multi"], "one, two");
  t.is(r.sink.headers["content-length"], "0");
  t.is(r.sink.headers["empty"], "");
  // Names from the wire are plain keys: nothing to reach or inherit through the prototype.
  t.is(Object.getPrototypeOf(Object.getPrototypeOf(r.sink.headers)), null);
  t.is(Object.keys(Object.getPrototypeOf(r.sink.headers) as object).length, 0);
  t.is(r.sink.headers["__proto__"], "x");
  t.is((r.sink.headers as Record<string, unknown>)["constructor"], "evil");
});

test("a status line without a reason is accepted", (t) => {
  const r = feed(whole("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n"));
  t.is(r.sink.status, 404);
  t.is(r.sink.reason, "");
});

for (const [what, text] of [
  ["a garbage status line", "HTTX/1.1 200 OK\r\n\r\n"],
  ["HTTP/2 in a status line", "HTTP/2.0 200 OK\r\n\r\n"],
  ["a two-digit status", "HTTP/1.1 20 OK\r\n\r\n"],
  ["an invalid content-length", "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n"],
  ["a negative content-length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"],
  ["conflicting content-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"],
  ["a header line without a colon", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n"],
  ["a bare LF inside a header value", "HTTP/1.1 200 OK\r\nX-A: 1\nX-B: 2\r\n\r\n"],
  ["a bare CR inside a header value", "HTTP/1.1 200 OK\r\nX-A: 1\rX-B: 2\r\n\r\n"],
  ["obsolete line folding", "HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n"],
  ["a space before the colon", "HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n"],
  ["a bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
  ["chunk data longer than its size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n"],
  ["an unexpected 101", "HTTP/1.1 101 Switching Protocols\r\n\r\n"],
  // Found by the differential test against llhttp (response-parser-differential.test.ts).
  ["a header name that is not a token", "HTTP/1.1 200 OK\r\nX A: 1\r\nContent-Length: 0\r\n\r\n"],
  ["a NUL in a header value", "HTTP/1.1 200 OK\r\nX-A: a\u0000b\r\nContent-Length: 0\r\n\r\n"],
  ["a DEL in a header value", "HTTP/1.1 200 OK\r\nX-A: a\u007fb\r\nContent-Length: 0\r\n\r\n"],
  // The interim head's bare LF would end it for a lenient parser, which then sees the 200 that
  // skipping to the first CRLF CRLF hides.
  [
    "a bare LF in an interim head",
    "HTTP/1.1 103 Early Hints\r\nLink: </a>\n\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
  ],
  ["obsolete line folding in an interim head", "HTTP/1.1 100 Continue\r\nX-A: 1\r\n folded\r\n\r\n"],
  ["an interim response in HTTP/1.0", "HTTP/1.0 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"],
  [
    "an interim response with Connection: close",
    "HTTP/1.1 103 Early Hints\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
  ],
  // Skipped up to the CR, the size line ran to "ab" and the body was "YZ"; a parser that ends the
  // line at the LF reads "ab".
  ["a bare LF in a chunk extension", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x\nab\r\nYZ\r\n0\r\n\r\n"],
  ["a NUL in a chunk extension", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;\u0000\r\nab\r\n0\r\n\r\n"],
  ["a trailer line ending in a bare LF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\n\r\n"],
  [
    "a control character in a trailer value",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\u0001b\r\n\r\n",
  ],
] as const) {
  test(`${what} is a malformed response (HPE_INVALID)`, (t) => {
    for (const pieces of [whole(text), bytes(text)]) {
      const r = feed(pieces);
      t.is(r.error?.code, "HPE_INVALID");
    }
  });
}

test("a head larger than the limit fails, in one read or many", (t) => {
  const big = `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(2000)}\r\n\r\n`;
  t.is(feed(whole(big), { max: 1024 }).error?.code, "UND_ERR_HEADERS_OVERFLOW");
  t.is(feed(bytes(big), { max: 1024 }).error?.code, "UND_ERR_HEADERS_OVERFLOW");
  const unterminated = `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(2000)}`;
  t.is(feed(whole(unterminated), { max: 1024 }).error?.code, "UND_ERR_HEADERS_OVERFLOW");
  // Exactly at the limit is fine.
  const fits = `HTTP/1.1 200 OK\r\nX-A: ${"a".repeat(1024 - 26)}\r\n\r\n`;
  t.is(Buffer.byteLength(fits), 1024);
  t.is(feed(bytes(fits), { max: 1024 }).error, undefined);
  t.is(feed(whole(fits), { max: 1024 }).error, undefined);
});

test("trailers larger than the limit fail", (t) => {
  const text = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ${"b".repeat(2000)}\r\n\r\n`;
  t.is(feed(whole(text), { max: 1024 }).error?.code, "UND_ERR_HEADERS_OVERFLOW");
});

test("a halted parse stops right after the callback and continues where it stopped", (t) => {
  const text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
  const sink = new Sink();
  const parser = new ResponseParser(sink, 1024);
  parser.reset(false);
  const buf = Buffer.from(text);
  sink.haltOnBody = true;
  const first = parser.execute(buf, 0);
  t.is(sink.body, "abc");
  t.is(buf.toString("latin1", first), "\r\n3\r\ndef\r\n0\r\n\r\n");
  sink.halted = false;
  const second = parser.execute(buf, first);
  t.is(sink.body, "abcdef");
  t.false(parser.done);
  sink.halted = false;
  sink.haltOnBody = false;
  t.is(parser.execute(buf, second), buf.length);
  t.true(parser.done);
});

test("a message halted after its last body byte completes on the next call, even with no bytes", (t) => {
  const sink = new Sink();
  const parser = new ResponseParser(sink, 1024);
  parser.reset(false);
  sink.haltOnBody = true;
  const buf = Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  t.is(parser.execute(buf, 0), buf.length);
  t.false(parser.done);
  t.is(sink.trailers, undefined);
  sink.halted = false;
  t.is(parser.execute(Buffer.alloc(0), 0), 0);
  t.true(parser.done);
  t.deepEqual(sink.trailers, {});
});

test("the parser is reusable: reset starts the next response on the same connection", (t) => {
  const sink = new Sink();
  const parser = new ResponseParser(sink, 1024);
  for (const body of ["one", "second"]) {
    parser.reset(false);
    const buf = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    t.is(parser.execute(buf, 0), buf.length);
    t.true(parser.done);
    t.is(sink.chunks.at(-1)?.toString(), body);
  }
});

test("a body halted on every chunk still arrives whole, byte by byte", (t) => {
  const r = feed(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n"), {
    haltOnBody: true,
  });
  t.is(r.sink.body, "wxyz");
  t.true(r.parser.done);
});

test("the server's Keep-Alive header is exposed for the idle timeout", (t) => {
  const r = feed(whole("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n"));
  t.is(r.parser.keepAliveHeader, "timeout=5");
});
