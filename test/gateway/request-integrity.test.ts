// One request in, one request out: for generated requests (methods, targets with encodings,
// header values over the whole byte range, bodies) a recording backend sees exactly the request
// the client sent, modulo the documented rewrites, or the client is refused and the backend sees
// nothing. And over pipelined sequences on pooled upstream connections, every client gets the
// answer to its own request.
import { isUtf8 } from "node:buffer";
import test from "ava";
import fc from "fast-check";
import {
  headerBytes,
  RawConnection,
  rawExchange,
  type RecordingBackend,
  responseHeader,
  withRecordingGateway,
} from "../support/raw-http.js";
import { fcSeed } from "../support/fc-seed.js";

const SEED = fcSeed();

const withGateway = (connectionsPerEndpoint: number, run: (port: number, backend: RecordingBackend) => Promise<void>) =>
  withRecordingGateway({ connectionsPerEndpoint, client: { pipelining: true } }, run);

const bytes = (...b: number[]) => b;
/** Pieces of a header value: plain text, whitespace, UTF-8 sequences (some that end in CR/LF
 * code points once their high byte is dropped), lone high bytes (not UTF-8), controls, DEL. */
const valuePiece = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x21, max: 0x7e }).map((b) => [b]) },
  { weight: 1, arbitrary: fc.constantFrom([0x20], [0x09]) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      bytes(0xc4, 0x8d), // U+010D: low byte 0x0D (CR)
      bytes(0xc4, 0x8a), // U+010A: low byte 0x0A (LF)
      bytes(0xc3, 0xa9), // é
      bytes(0xe6, 0x97, 0xa5), // 日
      bytes(0xef, 0xbf, 0xbd), // U+FFFD sent as such
      bytes(0xc4, 0xae), // U+012E: low byte "."
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((b) => [b]) },
  { weight: 1, arbitrary: fc.integer({ min: 0x00, max: 0x1f }).filter((b) => b !== 0x0a && b !== 0x0d && b !== 0x09).map((b) => [b]) },
  { weight: 1, arbitrary: fc.constant([0x7f]) },
);
const cleanPiece = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((b) => [b]) },
  { weight: 1, arbitrary: fc.constantFrom(bytes(0xc4, 0x8d), bytes(0xc4, 0x8a), bytes(0xc3, 0xa9), bytes(0xe6, 0x97, 0xa5), bytes(0xc4, 0xae)) },
);
// Most values are ones a client may send (text, UTF-8); some hold anything.
const headerValue = fc
  .oneof({ weight: 4, arbitrary: fc.array(cleanPiece, { maxLength: 12 }) }, { weight: 1, arbitrary: fc.array(valuePiece, { maxLength: 10 }) })
  .map((pieces) => Buffer.from(pieces.flat()));

type Expect = { kind: "refused" } | { kind: "ok"; value: Buffer };

/**
 * What the backend should get for a header value. uWebSockets.js 20.30 refuses a head with a
 * control byte (it closes the connection), trims bytes <= 0x20 and >= 0x80 from both ends of a
 * value (it reads them as signed chars) and decodes the rest as UTF-8; the gateway refuses DEL and
 * anything that was not UTF-8 (uWS turned it into U+FFFD; the bytes are gone) with 400.
 */
function expectValue(value: Buffer): Expect {
  if (value.some((b) => (b < 0x20 && b !== 0x09) || b === 0x7f)) return { kind: "refused" };
  let start = 0;
  let end = value.length;
  while (start < end && ((value[start] as number) <= 0x20 || (value[start] as number) >= 0x80)) start++;
  while (end > start && ((value[end - 1] as number) <= 0x20 || (value[end - 1] as number) >= 0x80)) end--;
  const trimmed = value.subarray(start, end);
  if (!isUtf8(trimmed) || trimmed.toString("utf8").includes("\ufffd")) return { kind: "refused" };
  return { kind: "ok", value: trimmed };
}

/** Path segments already normal (so the backend must get them byte for byte), or a bad piece. */
const goodSegment = fc.oneof(
  fc.stringMatching(/^[a-z0-9._~-]{1,8}$/).filter((s) => s !== "." && s !== ".."),
  fc.constantFrom("%20", "%3F", "%C3%A9", "%2F", "%25", "caf\u00e9", "\u65e5", "\u010d\u010a", "\u012e\u012f", "a=b", "x@y", "(1)"),
);
/** `arb` one time in `oneIn`, otherwise null. */
function sometimes<T>(arb: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
}

/** RAW stands for a lone 0xE9 byte on the wire: not UTF-8. */
const RAW = "\ue000";
const badPiece = fc.constantFrom("\x7f", "\\", "#frag", RAW, "\x01", "%zz", "\ufffd");
const pathArb = fc.tuple(fc.array(goodSegment, { minLength: 1, maxLength: 4 }), sometimes(badPiece, 6)).map(([segs, bad]) => ({
  // A string of code points, sent as UTF-8 except RAW.
  text: "/" + segs.join("/") + (bad ?? ""),
  bad: bad !== null,
}));
const queryArb = fc.option(
  fc.tuple(fc.stringMatching(/^[a-z0-9=&%._~-]{0,12}$/).filter((q) => !/%(?![0-9A-F]{2})/.test(q)), sometimes(fc.constantFrom(RAW, "\x7f", "#", "caf\u00e9", "[]", "{}"), 2)),
  { freq: 2 },
);

/** Text to wire bytes: code points as UTF-8, RAW as the single byte 0xE9. */
function wire(text: string): Buffer {
  return Buffer.concat(text.split(RAW).flatMap((part, i) => (i === 0 ? [Buffer.from(part, "utf8")] : [Buffer.from([0xe9]), Buffer.from(part, "utf8")])));
}

/** Written out here rather than imported, so the test does not share the gateway's code. */
function encodeNonAscii(text: string): string {
  let out = "";
  for (const ch of text) out += ch.charCodeAt(0) < 0x80 ? ch : [...Buffer.from(ch, "utf8")].map((b) => "%" + b.toString(16).toUpperCase().padStart(2, "0")).join("");
  return out;
}

const requestArb = fc.record({
  method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"),
  path: pathArb,
  query: queryArb,
  headers: fc.uniqueArray(fc.tuple(fc.constantFrom("x-a", "x-b", "x-custom-header", "accept-language", "x-user"), headerValue), {
    selector: ([name]) => name,
    maxLength: 3,
  }),
  body: fc.uint8Array({ maxLength: 3000 }),
});

test("a generated request reaches the backend once with the bytes the client sent, or is refused and reaches nothing", async (t) => {
  await withGateway(4, async (port, backend) => {
    let accepted = 0;
    let refused = 0;
    let n = 0;
    const runs = 400;
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        const tag = `run-${n++}`;
        const carriesBody = r.method === "POST" || r.method === "PUT" || r.method === "PATCH";
        const body = carriesBody ? Buffer.from(r.body) : Buffer.alloc(0);
        const queryText = r.query === null ? "" : r.query[0] + (r.query[1] ?? "");
        const target = Buffer.concat([wire(r.path.text), queryText === "" ? Buffer.alloc(0) : Buffer.concat([Buffer.from("?"), wire(queryText)])]);
        // The documented rewrite: non-ASCII in the target is forwarded percent-encoded.
        const forwarded = Buffer.from(encodeNonAscii(r.path.text) + (queryText === "" ? "" : "?" + encodeNonAscii(queryText)), "latin1");
        const head = Buffer.concat([
          Buffer.from(`${r.method} `),
          target,
          Buffer.from(` HTTP/1.1\r\nHost: integrity.test\r\nX-Tag: ${tag}\r\n`),
          ...r.headers.map(([name, value]) => Buffer.concat([Buffer.from(`${name}: `), value, Buffer.from("\r\n")])),
          Buffer.from(carriesBody ? `Content-Length: ${body.length}\r\n\r\n` : "\r\n"),
        ]);
        const expected = r.headers.map(([name, value]) => [name, expectValue(value)] as const);
        const queryBad = r.query?.[1] === RAW || r.query?.[1] === "\x7f" || r.query?.[1] === "#";
        const refusal = r.path.bad || queryBad || expected.some(([, e]) => e.kind === "refused");
        const before = backend.received.length;
        // uWS neither answers nor closes at once for a head with a control byte: do not wait long.
        const uwsRefuses = r.headers.some(([, v]) => v.some((b) => (b < 0x20 && b !== 0x09) || b === 0x7f)) || r.path.text.includes("\x01");
        const result = await rawExchange(port, [Buffer.concat([head, body])], [r.method], { timeoutMs: uwsRefuses ? 150 : 3000 });
        const got = backend.received.slice(before);
        if (refusal) {
          refused++;
          // Refused: a 400 (or, for a control byte uWS will not parse, the connection closed).
          const status = result.responses[0]?.status;
          if (status === undefined) {
            if (!result.closed && !uwsRefuses) throw new Error(`no answer and the connection is open for ${head.toString("latin1")}`);
          } else if (status !== 400) {
            throw new Error(`expected 400, got ${status} for ${JSON.stringify(head.toString("latin1"))}`);
          }
          if (got.length !== 0) throw new Error(`the backend got ${got.length} request(s) for a refused one`);
          return;
        }
        accepted++;
        const answer = result.responses[0];
        if (answer?.status !== 200) {
          throw new Error(
            `expected 200, got ${answer?.status ?? "nothing"} (${JSON.stringify(answer?.head)} ${JSON.stringify(answer?.body.toString("latin1"))}) for ${JSON.stringify(head.toString("latin1"))}`,
          );
        }
        if (responseHeader(answer, "x-echo-tag")?.toString() !== tag) throw new Error("answer to another request");
        if (r.method === "HEAD" ? answer.body.length !== 0 : !answer.body.toString("latin1").startsWith(`tag=${tag}`)) {
          throw new Error(`wrong body: ${answer.body.toString("latin1")}`);
        }
        if (got.length !== 1) throw new Error(`the backend got ${got.length} requests`);
        const seen = got[0]!;
        if (seen.method !== r.method) throw new Error(`method ${seen.method}`);
        if (!seen.target.equals(forwarded)) {
          throw new Error(`target ${JSON.stringify(seen.target.toString("latin1"))} != ${JSON.stringify(forwarded.toString("latin1"))}`);
        }
        for (const [name, e] of expected) {
          if (e.kind !== "ok") continue;
          const value = headerBytes(seen, name);
          if (value === undefined || !value.equals(e.value)) {
            throw new Error(`${name}: backend got ${JSON.stringify(value?.toString("latin1"))}, expected ${JSON.stringify(e.value.toString("latin1"))}`);
          }
        }
        if (!seen.body.equals(body)) throw new Error("body differs");
      }),
      { numRuns: runs, seed: SEED, includeErrorInReport: true },
    );
    t.log(`${runs} runs, seed ${SEED}: ${accepted} forwarded byte for byte, ${refused} refused`);
    t.true(accepted > runs / 4 && refused > runs / 10, "both kinds were generated");
    // Nothing arrived late either: the backend saw exactly the accepted requests.
    t.is(backend.received.length, accepted);
  });
});

async function atBackend(backend: RecordingBackend, tag: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!backend.received.some((r) => headerBytes(r, "x-tag")?.toString() === tag)) {
    if (Date.now() > deadline) throw new Error(`${tag} never reached the backend`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** One client's requests on one connection: each either waits for the previous answer or follows it closely. */
const clientArb = fc.array(
  fc.record({
    method: fc.constantFrom("GET", "POST", "HEAD", "DELETE"),
    delayMs: fc.integer({ min: 0, max: 15 }),
    smuggle: fc.boolean(),
    pipelined: fc.boolean(),
  }),
  { minLength: 1, maxLength: 4 },
);

test("pipelined requests from many clients over pooled upstream connections: each client gets its own answers, in order", async (t) => {
  await withGateway(2, async (port, backend) => {
    backend.answer = (_req, res, recorded) => {
      const tag = headerBytes(recorded, "x-tag")?.toString() ?? "";
      const delay = Number(headerBytes(recorded, "x-delay")?.toString() ?? "0");
      setTimeout(() => {
        const body = Buffer.from(`answer for ${tag}`);
        res.writeHead(200, { "x-echo-tag": tag, "content-length": body.length });
        res.end(body);
      }, delay);
    };
    let n = 0;
    let total = 0;
    const runs = 60;
    await fc.assert(
      fc.asyncProperty(fc.array(clientArb, { minLength: 2, maxLength: 6 }), async (clients) => {
        const before = backend.received.length;
        const outcomes = await Promise.all(
          clients.map(async (requests) => {
            const tags = requests.map(() => `c${n++}`);
            const parts = requests.map((r, i) => {
              // A value that, read as the low bytes of its code points, would carry a request of its own.
              const smuggled = r.smuggle ? "X-Note: a\u010d\u010aGET /smuggled HTTP/1.1\u010d\u010aHost: x\u010d\u010a\u010d\u010a\r\n" : "";
              const body = r.method === "POST" ? "payload" : "";
              const length = r.method === "POST" ? `Content-Length: ${body.length}\r\n` : "";
              return Buffer.from(
                `${r.method} /item/${i} HTTP/1.1\r\nHost: integrity.test\r\nX-Tag: ${tags[i]}\r\nX-Delay: ${r.delayMs}\r\n${smuggled}${length}\r\n${body}`,
                "utf8",
              );
            });
            // A request marked pipelined is written once the one before it has reached the
            // backend (so it is at the backend, unanswered); the others wait for their answer.
            const results = [];
            const conn = new RawConnection(port);
            try {
              let i = 0;
              while (i < parts.length) {
                conn.write(parts[i]!);
                let j = i + 1;
                while (j < parts.length && requests[j]!.pipelined) {
                  await atBackend(backend, tags[j - 1]!);
                  conn.write(parts[j]!);
                  j++;
                }
                const responses = await conn.read(requests.slice(i, j).map((r) => r.method));
                results.push(...responses);
                if (responses.length !== j - i) {
                  throw new Error(`client got ${responses.length} of ${j - i} answers (closed: ${conn.closed})`);
                }
                i = j;
              }
            } finally {
              conn.close();
            }
            return { tags, methods: requests.map((r) => r.method), results };
          }),
        );
        for (const { tags, methods, results } of outcomes) {
          results.forEach((res, k) => {
            if (res.status !== 200 || responseHeader(res, "x-echo-tag")?.toString() !== tags[k]) {
              throw new Error(`client expected ${tags[k]}, got ${res.status} ${responseHeader(res, "x-echo-tag")?.toString()}`);
            }
            if (methods[k] !== "HEAD" && res.body.toString() !== `answer for ${tags[k]}`) throw new Error("body of another answer");
          });
        }
        const sent = clients.reduce((sum, c) => sum + c.length, 0);
        total += sent;
        const got = backend.received.slice(before);
        if (got.length !== sent) throw new Error(`backend got ${got.length} requests for ${sent}`);
        if (got.some((r) => r.target.toString("latin1").includes("smuggled"))) throw new Error("a smuggled request reached the backend");
      }),
      { numRuns: runs, seed: SEED, includeErrorInReport: true },
    );
    t.log(`${runs} runs, seed ${SEED}: ${total} requests, every answer to its own client`);
    t.is(backend.received.length, total);
    t.true(new Set(backend.received.map((r) => r.connection)).size <= 2 * 3, "pooled: few upstream connections");
  });
});
