// What uWebSockets.js 20.30 does with request heads and chunked bodies it does not parse as
// HTTP/1.1 says, measured with a bare uWS app, so that a uWS upgrade that changes any of it
// fails here and README's "Request integrity" gets rewritten. For heads it does not parse, uWS
// never calls a handler: the gateway cannot answer them (no 431 for too many header lines), only
// uWS's own timeout closes the connection. The gateway's side of the same requests is checked
// too.
import { connect } from "node:net";
import test from "ava";
import { type HttpRequest, type HttpResponse, uws } from "../../gateway/uws.js";
import { withRecordingGateway } from "../support/raw-http.js";

interface Handled {
  headers: [string, string][];
  body: Buffer;
  /** uWS said the body was complete. */
  complete: boolean;
  aborted: boolean;
}

/**
 * A bare uWS app on a free port that records each request it is handed and answers it once the
 * body is in, or (`answerAtOnce`) in the handler itself, before any body.
 */
async function bareApp(answerAtOnce = false): Promise<{ port: number; handled: Handled[]; close(): void }> {
  const handled: Handled[] = [];
  const app = uws.App().any("/*", (res: HttpResponse, req: HttpRequest) => {
    const entry: Handled = { headers: [], body: Buffer.alloc(0), complete: false, aborted: false };
    req.forEach((name, value) => entry.headers.push([name, value]));
    handled.push(entry);
    res.onAborted(() => (entry.aborted = true));
    if (answerAtOnce) {
      res.end("ok");
      return;
    }
    res.onData((chunk, isLast) => {
      entry.body = Buffer.concat([entry.body, Buffer.from(new Uint8Array(chunk))]);
      if (isLast) {
        entry.complete = true;
        res.end("ok");
      }
    });
  });
  const socket = await new Promise<unknown>((resolve) => app.listen("127.0.0.1", 0, resolve));
  if (socket === false) throw new Error("bare uWS app cannot listen");
  return {
    port: uws.us_socket_local_port(socket as never),
    handled,
    close: () => (app as unknown as { close(): void }).close(),
  };
}

interface Seen {
  /** Bytes the server sent. */
  received: Buffer;
  /** Milliseconds from connecting until the server closed the connection. */
  closedAfterMs: number;
}

/**
 * Connects, writes `head`, then `more` after `moreAfterMs` (if given) and a FIN after `finAfterMs`
 * (if given), and resolves when the server closes the connection (rejects after 30 s).
 */
function send(port: number, head: string, options: { more?: string; moreAfterMs?: number; finAfterMs?: number } = {}): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(head, "latin1");
      if (options.more !== undefined) setTimeout(() => socket.write(options.more!, "latin1"), options.moreAfterMs ?? 0);
      if (options.finAfterMs !== undefined) setTimeout(() => socket.end(), options.finAfterMs);
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("the server kept the connection open for 30 s"));
    }, 30_000);
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), closedAfterMs: Date.now() - started });
    });
  });
}

/** A GET with `lines` header lines in all, Host the first; the last one is `x-last: end`. */
function headWithLines(lines: number): string {
  let head = "GET / HTTP/1.1\r\nHost: a.test\r\n";
  for (let i = 2; i < lines; i++) head += `x-h${i}: v${i}\r\n`;
  return head + (lines >= 2 ? "x-last: end\r\n" : "") + "\r\n";
}

/** uWS checks its timeouts on a 4 s tick: the 10 s head timeout closes 8 to 12 s in. Load only
 * delays a close, so "not before 6 s" tells the timeout from an immediate close. */
const TIMEOUT_FLOOR_MS = 6000;

test("uWS hands over a head of 48 header lines whole, never one of 49 or more: closed unanswered at its 10 s timeout, at once past 4 KiB", async (t) => {
  const app = await bareApp();
  t.teardown(() => app.close());
  const counts = [48, 49, 50, 64, 100];
  const [results, pastFourKiB] = await Promise.all([
    Promise.all(counts.map((n) => send(app.port, headWithLines(n)).then((seen) => ({ n, seen })))),
    // More bytes after the unparsed head: uWS holds at most 4 KiB of a head it is waiting on.
    send(app.port, headWithLines(49), { more: "x".repeat(4000), moreAfterMs: 200 }),
  ]);
  const handledCounts = app.handled.map((h) => h.headers.length);
  t.deepEqual(handledCounts, [48], "only the 48-line head reached the handler");
  t.deepEqual(app.handled[0]?.headers.at(-1), ["x-last", "end"], "its last header line is there");
  for (const { n, seen } of results) {
    t.log(`${n} header lines: ${seen.received.length > 0 ? "answered" : "no answer"}, closed by uWS after ${seen.closedAfterMs} ms`);
    if (n === 48) {
      t.regex(seen.received.toString("latin1"), /^HTTP\/1\.1 200 OK/);
      continue;
    }
    t.is(seen.received.length, 0, `${n} lines: no byte`);
    t.true(seen.closedAfterMs >= TIMEOUT_FLOOR_MS, `${n} lines: closed by the timeout, not at once (${seen.closedAfterMs} ms)`);
  }
  t.log(`49 header lines and 4000 more bytes: no answer, closed by uWS after ${pastFourKiB.closedAfterMs} ms`);
  t.is(pastFourKiB.received.length, 0);
  t.true(pastFourKiB.closedAfterMs < TIMEOUT_FLOOR_MS, "closed as the bytes passed 4 KiB, before any timeout");
});

test("through the gateway: 48 header lines reach the backend, all of them; 49 get no answer and are closed by uWS's timeout", async (t) => {
  await withRecordingGateway({}, async (port, backend) => {
    const [ok, tooMany] = await Promise.all([
      send(port, headWithLines(48), { finAfterMs: 3000 }),
      send(port, headWithLines(49)),
    ]);
    t.regex(ok.received.toString("latin1"), /^HTTP\/1\.1 200 OK/);
    t.is(backend.received.length, 1);
    const names = backend.received[0]!.headers.map(([name]) => name);
    t.true(names.includes("x-last") && names.includes("x-h47"), "every line reached the backend");
    t.log(`gateway, 49 header lines: ${tooMany.received.length} bytes back, closed after ${tooMany.closedAfterMs} ms`);
    t.is(tooMany.received.length, 0);
    t.true(tooMany.closedAfterMs >= TIMEOUT_FLOOR_MS);
  });
});

test("uWS parses header names of letters, digits and '-' only: any other token character leaves the head unparsed", async (t) => {
  const app = await bareApp();
  t.teardown(() => app.close());
  // RFC 9110 tchar, and a few that are not.
  const chars = [..."aZ09-!#$%&'*+.^_`|~", '"', "(", "/", "@", "[", "{", "\x7f", "\xe9"];
  const parsed: string[] = [];
  for (const c of chars) {
    const before = app.handled.length;
    // The FIN follows the head: uWS reads the head first, and closes on the FIN.
    await send(app.port, `GET / HTTP/1.1\r\nHost: a.test\r\nx${c}y: v\r\n\r\n`, { finAfterMs: 50 });
    if (app.handled.length > before) parsed.push(c);
  }
  t.log(`header name characters uWS parses: ${JSON.stringify(parsed.join(""))} of ${JSON.stringify(chars.join(""))}`);
  t.deepEqual(parsed, ["a", "Z", "0", "9", "-"]);
  // And without the client's FIN, a name with "_" waits for the head timeout.
  const underscore = await send(app.port, "GET / HTTP/1.1\r\nHost: a.test\r\nx_y: v\r\n\r\n");
  t.log(`x_y: closed by uWS after ${underscore.closedAfterMs} ms, ${underscore.received.length} bytes back`);
  t.is(underscore.received.length, 0);
  t.true(underscore.closedAfterMs >= TIMEOUT_FLOOR_MS);
});

test("for a Content-Length that is not digits or is 10^9 or more, uWS calls the handler, then closes: even an answer written at once is lost", async (t) => {
  const app = await bareApp(true);
  t.teardown(() => app.close());
  const refused = ["a", "-1", "1e3", "5, 5", "+5", "0x5", "5a", "1000000000"];
  for (const value of refused) {
    const seen = await send(app.port, `POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: ${value}\r\n\r\n12345`);
    t.is(seen.received.length, 0, `${value}: no byte of the handler's answer`);
    t.true(seen.closedAfterMs < TIMEOUT_FLOOR_MS, `${value}: closed at once (${seen.closedAfterMs} ms)`);
  }
  t.is(app.handled.length, refused.length, "each reached the handler, which answered at once");
  for (const value of ["0", "", " 5"]) {
    const seen = await send(app.port, `POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: ${value}\r\n\r\n12345`, { finAfterMs: 200 });
    t.regex(seen.received.toString("latin1"), /^HTTP\/1\.1 200 OK/, JSON.stringify(value));
  }
});

test("uWS's chunked decoder: a chunk extension is read as hex digits, and the two bytes after chunk data are skipped unchecked", async (t) => {
  const app = await bareApp();
  t.teardown(() => app.close());
  const cases: { chunked: string; body: string; complete: boolean }[] = [
    { chunked: "5\r\nhello\r\n0\r\n\r\n", body: "hello", complete: true },
    // ";a=b" counts as the hex digits b, a, d, b: a chunk of 0x5badb bytes that never comes.
    { chunked: "5;a=b\r\nhello\r\n0\r\n\r\n", body: "hello\r\n0\r\n\r\n", complete: false },
    { chunked: "3\r\nhello\r\n0\r\n\r\n", body: "hel", complete: true },
    { chunked: "5\r\nhel\r\n0\r\n\r\n", body: "hel\r\n", complete: true },
    { chunked: "5\r\nhelloXY0\r\n\r\n", body: "hello", complete: true },
    { chunked: "5\r\nhello\r\n\r\n", body: "hello", complete: true },
    { chunked: "5\nhello\n0\n\n", body: "hello", complete: true },
  ];
  for (const c of cases) {
    const before = app.handled.length;
    await send(app.port, `POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n${c.chunked}`, { finAfterMs: 200 });
    const handled = app.handled[before];
    t.is(handled?.body.toString("latin1"), c.body, JSON.stringify(c.chunked));
    t.is(handled?.complete, c.complete, JSON.stringify(c.chunked));
  }
});
