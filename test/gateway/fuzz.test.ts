// Fuzzing as a habit: generated hostile input on every kind of port a gateway has (plain HTTP,
// TLS passthrough, HTTPS shared with passthrough, PROXY protocol in front of HTTP and of TLS),
// against a data plane in a process of its own. For every generated connection: the gateway
// answers it or closes it (a connection it leaves silent is closed once the client sends its
// FIN), nothing reaches a backend that was not asked for, the process stays up and serves a
// normal request after every batch, and its memory is bounded at the end. What the gateway
// must answer (well-formed heads, well-framed chunked bodies, valid PROXY headers) it answers,
// with the bytes the client sent. request-integrity.test.ts covers header values and targets;
// this file covers head shapes, chunked framing, ClientHello bytes and PROXY headers.
// FC_SEED replays a run; each property shrinks a failure to its smallest case; FUZZ_SCALE=n
// runs n times as many cases (a longer session by hand; ava's timeout may need raising).
import { BlockList, isIPv4, SocketAddress } from "node:net";
import test from "ava";
import fc from "fast-check";
import type { PortInput } from "../../gateway/snapshot.js";
import { fcSeed } from "../support/fc-seed.js";
import { startDataPlaneChild, type DataPlaneProcess } from "../support/data-plane-process.js";
import { drive, type Driven, splitAt } from "../support/fuzz-drive.js";
import { handshake, httpsPortOf, request } from "../support/https-port.js";
import { freePort } from "../support/net.js";
import { headerBytes, parseResponses, rawExchange, type RecordingBackend, recordingBackend } from "../support/raw-http.js";
import { cluster, simplePort } from "../support/snapshot.js";
import { makeCa, type TestCa } from "../support/tls-certs.js";
import { startTlsBackend, type TlsBackend, tlsProbe } from "./passthrough/harness.js";
import { captureClientHello, handshakeBytes, toRecords } from "./tls/hello-fixtures.js";

const SEED = fcSeed();
/** Body limit of the plain HTTP port: generated bodies cross it. */
const MAX_BODY = 4096;
/** Cases per batch: run together, then the gateway must still serve. */
const BATCH = 8;
/** FUZZ_SCALE=10 runs ten times as many batches, for a longer session by hand. */
const SCALE = Number(process.env["FUZZ_SCALE"] ?? "1");

interface Ports {
  http: number;
  tls: number;
  shared: number;
  proxyHttp: number;
  proxyTls: number;
}

let gateway: DataPlaneProcess;
let backend: RecordingBackend;
let tlsBackend: TlsBackend;
let ca: TestCa;
let ports: Ports;
/** Real ClientHellos from node:tls, by what they ask for. */
let hellos: { name: string; bytes: Buffer }[];
let baseline: { rss: number; heapUsed: number };
/** Tags of every request a case or probe sent, and how many reached the backend. */
const sentTags = new Set<string>();
let tagCounter = 0;
const nextTag = (kind: string) => {
  const tag = `${kind}-${tagCounter++}`;
  sentTags.add(tag);
  return tag;
};

const passthroughA = (port: number) => [
  { name: "default/a", hostnames: ["a.example.com"], backends: [{ address: "127.0.0.1", port, weight: 1 }] },
];

test.before(async () => {
  backend = await recordingBackend();
  // X-Delay: n holds the answer n ms, so a client may reset while its request is upstream.
  const answer = backend.answer;
  backend.answer = (req, res, recorded) => {
    const delay = Number(headerBytes(recorded, "x-delay")?.toString("latin1") ?? "0");
    if (delay > 0) setTimeout(() => answer(req, res, recorded), delay);
    else answer(req, res, recorded);
  };
  ca = await makeCa();
  tlsBackend = await startTlsBackend(ca, "tls-backend", ["a.example.com"]);
  const leaf = await ca.issue(["b.example.com"]);
  ports = { http: await freePort(), tls: await freePort(), shared: await freePort(), proxyHttp: await freePort(), proxyTls: await freePort() };
  const tlsPort: PortInput = { port: ports.tls, address: "127.0.0.1", protocol: "TLS", listeners: [], passthrough: passthroughA(tlsBackend.port) };
  gateway = await startDataPlaneChild({
    version: 1,
    ports: [
      simplePort(ports.http, [{ backends: [{ cluster: "c" }] }], { maxBodyBytes: MAX_BODY }),
      tlsPort,
      httpsPortOf(ports.shared, [{ hostname: "b.example.com", leaf }], { passthrough: passthroughA(tlsBackend.port) }),
      simplePort(ports.proxyHttp, [{ backends: [{ cluster: "c" }] }], { proxyProtocol: true }),
      { ...tlsPort, port: ports.proxyTls, client: { proxyProtocol: true } },
    ],
    clusters: [cluster("c", [backend.port])],
  });
  hellos = [
    { name: "a.example.com", bytes: await captureClientHello({ servername: "a.example.com" }) },
    { name: "b.example.com", bytes: await captureClientHello({ servername: "b.example.com", ALPNProtocols: ["h2", "http/1.1"] }) },
    { name: "tls1.2 a.example.com", bytes: await captureClientHello({ servername: "a.example.com", maxVersion: "TLSv1.2" }) },
    { name: "no sni", bytes: await captureClientHello({}) },
    { name: "other.example.com", bytes: await captureClientHello({ servername: "other.example.com" }) },
  ];
  // Warm up every port once, then take the baseline the end is compared with.
  await stillServing("warm-up");
  baseline = await gateway.memory();
});

test.after.always(async () => {
  await gateway?.stop();
  await backend?.close();
  await tlsBackend?.close();
});

const bin = (...parts: (string | Buffer | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.isBuffer(p) ? p : Buffer.from(p))));

const PROXY_V1_LOCAL = "PROXY TCP4 192.0.2.1 192.0.2.2 4000 80\r\n";

const ALL_PORTS: (keyof Ports)[] = ["http", "tls", "shared", "proxyHttp", "proxyTls"];

/** The process is up and each of `which` ports serves a normal request or handshake. */
async function stillServing(when: string, which: (keyof Ports)[] = ALL_PORTS): Promise<void> {
  const fail = (what: string) => {
    throw new Error(`after ${when}: ${what}${gateway.exited() === undefined ? "" : `; the data plane ${gateway.exited()}: ${gateway.output()}`}`);
  };
  const get = (tag: string) => bin(`GET /alive HTTP/1.1\r\nHost: alive.test\r\nX-Tag: ${tag}\r\n\r\n`);
  const checks: Record<keyof Ports, () => Promise<void>> = {
    http: async () => {
      const plain = await rawExchange(ports.http, [get(nextTag("alive"))], ["GET"]);
      if (plain.responses[0]?.status !== 200) fail(`the HTTP port answered ${plain.responses[0]?.status ?? "nothing"}`);
    },
    proxyHttp: async () => {
      const proxied = await rawExchange(ports.proxyHttp, [bin(PROXY_V1_LOCAL, get(nextTag("alive")))], ["GET"]);
      if (proxied.responses[0]?.status !== 200) fail(`the PROXY HTTP port answered ${proxied.responses[0]?.status ?? "nothing"}`);
    },
    tls: async () => {
      if (!(await tlsProbe(ports.tls, "a.example.com", ca)).ok) fail("the passthrough port does not reach its backend");
    },
    shared: async () => {
      if (!(await tlsProbe(ports.shared, "a.example.com", ca)).ok) fail("the shared port does not pass a.example.com through");
      const terminated = await handshake(ports.shared, { servername: "b.example.com", ca: ca.certPem, keep: true });
      const status = terminated.socket === undefined ? terminated.error : (await request(terminated.socket, "b.example.com", `/tagged/${nextTag("alive")}`)).status;
      terminated.socket?.destroy();
      if (status !== "HTTP/1.1 200 OK") fail(`the shared port's HTTPS answered ${status}`);
    },
    proxyTls: async () => {
      const behindProxy = await handshake(ports.proxyTls, { servername: "a.example.com", proxyHeader: PROXY_V1_LOCAL });
      if (!behindProxy.ok) fail(`the PROXY passthrough port: ${behindProxy.error}`);
    },
  };
  await Promise.all(which.map((port) => checks[port]()));
}

/** Every request the backend got carries a tag some case or probe sent, each tag at most once. */
function backendSawOnlyWhatWasSent(): void {
  const seen = new Set<string>();
  for (const r of backend.received) {
    const target = r.target.toString("latin1");
    const tag = headerBytes(r, "x-tag")?.toString("latin1") ?? (target.startsWith("/tagged/") ? target.slice(8) : "");
    if (!sentTags.has(tag)) throw new Error(`the backend got a request nobody sent: ${r.method} ${r.target.toString("latin1")} (tag ${JSON.stringify(tag)})`);
    if (seen.has(tag)) throw new Error(`the backend got ${tag} twice`);
    seen.add(tag);
  }
}

function receivedWithTag(tag: string) {
  return backend.received.filter((r) => headerBytes(r, "x-tag")?.toString("latin1") === tag);
}

const show = (bytes: Buffer) => JSON.stringify(bytes.toString("latin1").slice(0, 600));

/** Tallies how connections ended, for the log. */
class Tally {
  private readonly counts = new Map<string, number>();
  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  get total(): number {
    return [...this.counts.values()].reduce((a, b) => a + b, 0);
  }
  toString(): string {
    return [...this.counts].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}`).join(", ");
  }
}

/** How a client cuts its bytes: cut points (as fractions of the length) and gaps. */
const cutting = fc.record({
  cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
  gaps: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 6 }),
  halfClose: fc.boolean(),
  /** One connection in eight is reset by the client, part-way or after its last write. */
  reset: fc.oneof(
    { weight: 7, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.record({ afterPart: fc.nat(6), delayMs: fc.integer({ min: 0, max: 20 }) }) },
  ),
});
type Cutting = typeof cutting extends fc.Arbitrary<infer T> ? T : never;
const cut = (bytes: Buffer, c: Cutting) => splitAt(bytes, c.cuts.map((f) => Math.floor(f * bytes.length)));

/** Runs a property over batches of cases; after each batch the gateway must still serve. */
async function batches<T>(
  name: string,
  serving: (keyof Ports)[],
  arb: fc.Arbitrary<T>,
  runs: number,
  one: (c: T) => Promise<void>,
): Promise<void> {
  let batch = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(arb, { minLength: 1, maxLength: BATCH }), async (cases) => {
      // Every case of the batch finishes before the next batch (or a shrink step) starts.
      const results = await Promise.allSettled(cases.map(one));
      const failed = results.find((r) => r.status === "rejected");
      if (failed !== undefined) throw failed.reason;
      await stillServing(`${name} batch ${batch++}`, serving);
    }),
    // A failure is shrunk; the time limit keeps a shrink against a hung gateway bounded.
    { numRuns: Math.round(runs * SCALE), seed: SEED, includeErrorInReport: true, interruptAfterTimeLimit: 50_000 * SCALE, markInterruptAsFailure: true },
  );
}

// ---------------------------------------------------------------------------------------------
// Request heads: shapes request-integrity.test.ts does not make (odd names, line endings, folds,
// line counts across uWS's 48, versions, odd methods and targets).

const UWS_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"];
/** uWS 20.30 hands a request to the gateway only with at most this many header lines (README). */
const UWS_MAX_HEADER_LINES = 48;

const TOKEN = /^[a-z0-9!#$%&'*+.^_`|~-]{1,12}$/;
/** The header names uWS 20.30 parses: letters, digits and "-" (any other token character
 * leaves the head unparsed until the 10 s timeout; README, uws-limits.test.ts). */
const UWS_NAME = /^[A-Za-z0-9-]+$/;
/** Names uWS parses; token names it does not; names no field may have. */
const goodName = fc.stringMatching(/^[a-z0-9-]{1,12}$/).filter((n) => !["host", "x-tag", "content-length", "transfer-encoding", "expect", "connection", "upgrade", "te", "trailer"].includes(n));
const oddName = fc.oneof(
  fc.stringMatching(TOKEN).filter((n) => !UWS_NAME.test(n)),
  fc.constantFrom("", " x", "x ", "x\ty", "caf\xe9", "x\x00y", "(x)", "{x}", 'x"', "\x7f", "x/y", "x@y", "[x]", "x=y", "\xff", "x_y", "x.y"),
);
/** Framing and hop-by-hop names with arbitrary values: the gateway's checks meet them. */
const framingName = fc.constantFrom("Content-Length", "Transfer-Encoding", "Connection", "Expect", "Upgrade", "TE", "Trailer", "Host", "X-Forwarded-For", "Cookie");
const goodValue = fc.stringMatching(/^[!-~]([ -~]{0,18}[!-~])?$/);
const oddValue = fc.oneof(
  fc.constantFrom("chunked", "gzip, chunked", "0", "-1", "1e3", "100-continue", "close", "keep-alive, Upgrade", "websocket", "a\tb", ""),
  fc.string({ unit: "binary", maxLength: 8 }).map((s) => Buffer.from(s, "utf8").toString("latin1")),
  fc.integer({ min: 100, max: 5000 }).map((n) => "v".repeat(n)),
);
const SHAPES = ["no-space", "no-colon", "fold", "space-before-colon", "lf", "cr", "empty-line"] as const;
interface HeaderLine {
  name: string;
  value: string;
  shape: "ok" | (typeof SHAPES)[number];
}
const goodLine = fc.record({ name: goodName, value: goodValue }).map((l): HeaderLine => ({ ...l, shape: "ok" }));

/** One way a head goes wrong; `at` picks the line it touches. */
const headFault = fc.oneof(
  fc.record({ kind: fc.constant("method" as const), method: fc.constantFrom("get", "PURGE", "CONNECT", "", "G ET", "GET\x00", "M-SEARCH", "A".repeat(300)) }),
  fc.record({ kind: fc.constant("target" as const), target: fc.constantFrom("*", "", "http://a.test/x", "//x", "/a b", "x", "/%00", "/\xff", "/" + "a".repeat(9000), "/..", "?x", "/a#b") }),
  fc.record({ kind: fc.constant("version" as const), version: fc.constantFrom("HTTP/1.0", "HTTP/2.0", "http/1.1", "HTTP/1.1 ", "HTTP/1", "", "HTTP/1.10") }),
  fc.record({ kind: fc.constant("host" as const), host: fc.constantFrom("", "a b", "[::1]", "none", "twice", "a.test:99999", "x@y") }),
  fc.record({ kind: fc.constant("name" as const), at: fc.nat(), name: fc.oneof(oddName, framingName) }),
  fc.record({ kind: fc.constant("value" as const), at: fc.nat(), value: oddValue }),
  fc.record({ kind: fc.constant("shape" as const), at: fc.nat(), shape: fc.constantFrom(...SHAPES) }),
  fc.record({ kind: fc.constant("lines" as const), count: fc.integer({ min: 47, max: 70 }) }),
  // A WebSocket upgrade, its key and version well-formed or not: the upgrade path answers too.
  fc.record({
    kind: fc.constant("websocket" as const),
    key: fc.oneof(fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString("base64")), goodValue),
    version: fc.constantFrom("13", "8", "", "13, 8"),
    connection: fc.constantFrom("Upgrade", "keep-alive, Upgrade", "close"),
  }),
);
type HeadFault = typeof headFault extends fc.Arbitrary<infer T> ? T : never;

interface Head {
  method: string;
  target: string;
  version: string;
  host: string;
  lines: HeaderLine[];
}

/** A well-formed head (up to 48 header lines in all, uWS's limit) with up to three faults. */
const headArb = fc
  .record({
    method: fc.constantFrom(...UWS_METHODS),
    target: fc.stringMatching(/^\/[a-z0-9/._~-]{0,20}(\?[a-z0-9=&]{0,10})?$/),
    host: fc.constantFrom("alive.test", "alive.test:80", "ALIVE.Test."),
    lines: fc.oneof({ weight: 4, arbitrary: fc.array(goodLine, { maxLength: 8 }) }, { weight: 1, arbitrary: fc.array(goodLine, { minLength: 40, maxLength: 46 }) }),
    faults: fc.oneof(fc.constant<HeadFault[]>([]), fc.array(headFault, { minLength: 1, maxLength: 3 })),
    cutting,
  })
  .map(({ faults, cutting: c, ...base }) => {
    const h: Head = { ...base, version: "HTTP/1.1", lines: [...base.lines] };
    for (const f of faults) {
      if (f.kind === "method") h.method = f.method;
      else if (f.kind === "target") h.target = f.target;
      else if (f.kind === "version") h.version = f.version;
      else if (f.kind === "host") h.host = f.host;
      else if (f.kind === "lines") h.lines = Array.from({ length: f.count }, (_, i) => ({ name: `x-n${i}`, value: "v", shape: "ok" }));
      else if (f.kind === "websocket") {
        h.lines.push(
          { name: "Upgrade", value: "websocket", shape: "ok" },
          { name: "Connection", value: f.connection, shape: "ok" },
          { name: "Sec-WebSocket-Key", value: f.key, shape: "ok" },
          { name: "Sec-WebSocket-Version", value: f.version, shape: "ok" },
        );
        continue;
      }
      else if (h.lines.length === 0) h.lines.push({ name: "x-a", value: "a", shape: "ok" });
      if (f.kind === "name" || f.kind === "value" || f.kind === "shape") {
        const i = f.at % h.lines.length;
        h.lines[i] = { ...h.lines[i]!, ...(f.kind === "name" ? { name: f.name } : f.kind === "value" ? { value: f.value } : { shape: f.shape }) };
      }
    }
    return { ...h, cutting: c };
  });

function lineBytes(l: HeaderLine): string {
  switch (l.shape) {
    case "no-space":
      return `${l.name}:${l.value}\r\n`;
    case "no-colon":
      return `${l.name} ${l.value}\r\n`;
    case "fold":
      return ` ${l.name}: ${l.value}\r\n`;
    case "space-before-colon":
      return `${l.name} : ${l.value}\r\n`;
    case "lf":
      return `${l.name}: ${l.value}\n`;
    case "cr":
      return `${l.name}: ${l.value}\r`;
    case "empty-line":
      return `\r\n${l.name}: ${l.value}\r\n`;
    default:
      return `${l.name}: ${l.value}\r\n`;
  }
}

/** A head the gateway must answer: what uWS parses and hands over (README "Request integrity"). */
function mustAnswer(h: Head, headBytes: number): boolean {
  const hostLines = h.host === "none" ? 0 : h.host === "twice" ? 2 : 1;
  return (
    UWS_METHODS.includes(h.method) &&
    h.version === "HTTP/1.1" &&
    h.target.startsWith("/") &&
    !h.target.includes(" ") &&
    !/[^\x21-\x7e]/.test(h.target) &&
    h.host !== "none" &&
    h.lines.length + hostLines + 1 <= UWS_MAX_HEADER_LINES &&
    // Split over reads, uWS buffers at most 4 KiB of an unfinished head (README).
    headBytes <= 4096 &&
    h.lines.every((l) => l.shape === "ok" && UWS_NAME.test(l.name) && !/[^\x20-\x7e\t]/.test(l.value) && !announcesBody(l) && !uwsRefusesLength(l))
  );
}

/** uWS 20.30 closes the connection, unanswered, for a Content-Length that is not digits or is
 * 10^9 or more (README). */
function uwsRefusesLength(l: HeaderLine): boolean {
  return l.name.toLowerCase() === "content-length" && !/^ *\d{0,9} *$/.test(l.value);
}

/** A line after which the answer waits for a body (or a 100 Continue comes first). */
function announcesBody(l: HeaderLine): boolean {
  const name = l.name.toLowerCase();
  return (
    (name === "content-length" && /^\s*\d+\s*$/.test(l.value) && Number(l.value) > 0) ||
    (name === "transfer-encoding" && /chunked/i.test(l.value)) ||
    (name === "expect" && /100-continue/i.test(l.value))
  );
}

test.serial("generated request heads: each is answered or closed, well-formed ones are answered, the gateway serves on", async (t) => {
  const tally = new Tally();
  await batches("heads", ["http"], headArb, 150, async (h) => {
    const tag = nextTag("head");
    const hostLines = h.host === "none" ? "" : h.host === "twice" ? "Host: alive.test\r\nHost: other.test\r\n" : `Host: ${h.host}\r\n`;
    const head = bin(`${h.method} ${h.target} ${h.version}\r\n${hostLines}X-Tag: ${tag}\r\n`, h.lines.map(lineBytes).join(""), "\r\n");
    // A reset client gets nothing it could read; the gateway just has to survive it.
    const answerable = mustAnswer(h, head.length) && h.cutting.reset === undefined;
    const method = h.method === "HEAD" ? "HEAD" : "GET";
    const got = await drive(ports.http, cut(head, h.cutting), {
      gaps: h.cutting.gaps,
      reset: h.cutting.reset,
      halfClose: h.cutting.halfClose && !answerable,
      answered: (data) => parseResponses(data, [method]).responses.length > 0,
      quietMs: answerable ? 5000 : 50,
    });
    const answer = parseResponses(got.data, [method]).responses[0];
    tally.add(answer === undefined ? got.ending : `${answer.status}`);
    if (answerable && answer === undefined) throw new Error(`a well-formed head got no answer (${got.ending}): ${show(head)}`);
    const atBackend = receivedWithTag(tag).length;
    if (answer?.status === 200 && atBackend !== 1) throw new Error(`answered 200 but the backend got ${atBackend}: ${show(head)}`);
    // A refusal of the gateway's own (4xx) reaches no backend; a 502 for an upstream's answer that
    // is no WebSocket handshake comes after the backend got the request.
    if (answer !== undefined && answer.status >= 400 && answer.status < 500 && atBackend !== 0) {
      throw new Error(`answered ${answer.status} but the backend got it: ${show(head)}`);
    }
  });
  backendSawOnlyWhatWasSent();
  t.log(`seed ${SEED}: ${tally.total} heads: ${tally}`);
  t.pass();
});

// ---------------------------------------------------------------------------------------------
// Chunked request bodies, framed well or badly, cut into random TCP writes.

const chunkArb = fc.record({
  size: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 64 }) },
    { weight: 2, arbitrary: fc.integer({ min: 65, max: 1500 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1500, max: 3000 }) },
  ),
  fill: fc.integer({ min: 0, max: 255 }),
  spelling: fc.constantFrom("lower", "upper", "zeros"),
});
/** How the framing goes wrong, if it does. */
const framingFault = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ kind: "none" as const }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constantFrom("extension", "size-short", "size-long", "bad-hex", "no-crlf-after-data", "lf-only", "no-last-chunk", "cut-short", "garbage-after", "huge-size", "negative-size", "space-in-size", "trailers", "te-and-cl", "te-twice", "te-not-last"),
      at: fc.nat(),
      delta: fc.integer({ min: 1, max: 40 }),
    }),
  },
);
const bodyArb = fc.record({
  chunks: fc.array(chunkArb, { maxLength: 8 }),
  fault: framingFault,
  /** How long the backend holds its answer. */
  delayMs: fc.constantFrom(0, 0, 0, 5, 20),
  cutting,
});
type BodyCase = typeof bodyArb extends fc.Arbitrary<infer T> ? T : never;

function hexOf(n: number, spelling: string): string {
  const hex = n.toString(16);
  return spelling === "upper" ? hex.toUpperCase() : spelling === "zeros" ? `000${hex}` : hex;
}

/** The request's bytes, and the body the backend must get when the framing is good. */
function chunkedRequest(c: BodyCase, tag: string): { bytes: Buffer; body: Buffer; wellFramed: boolean } {
  const f = c.fault;
  const pick = c.chunks.length === 0 ? -1 : f.kind === "none" ? -1 : f.at % c.chunks.length;
  const framing = f.kind === "te-and-cl" ? "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n" : f.kind === "te-twice" ? "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n" : f.kind === "te-not-last" ? "Transfer-Encoding: chunked, gzip\r\n" : "Transfer-Encoding: chunked\r\n";
  const parts: Buffer[] = [bin(`POST /upload HTTP/1.1\r\nHost: alive.test\r\nX-Tag: ${tag}\r\nX-Delay: ${c.delayMs}\r\n${framing}\r\n`)];
  const data: Buffer[] = [];
  c.chunks.forEach((ch, i) => {
    const payload = Buffer.alloc(ch.size, ch.fill);
    data.push(payload);
    let size = hexOf(ch.size, ch.spelling);
    let eol = "\r\n";
    let after = "\r\n";
    if (i === pick) {
      if (f.kind === "extension") size += `;ext=${f.delta}`;
      if (f.kind === "size-short") size = hexOf(Math.max(1, ch.size - f.delta), ch.spelling);
      if (f.kind === "size-long") size = hexOf(ch.size + f.delta, ch.spelling);
      if (f.kind === "bad-hex") size = `${size}z`;
      if (f.kind === "huge-size") size = "f".repeat(8 + (f.delta % 12));
      if (f.kind === "negative-size") size = `-${size}`;
      if (f.kind === "space-in-size") size = `${size} `;
      if (f.kind === "no-crlf-after-data") after = "";
      if (f.kind === "lf-only") eol = after = "\n";
    }
    parts.push(bin(size, eol), payload, bin(after));
  });
  if (f.kind !== "no-last-chunk") parts.push(bin(f.kind === "trailers" ? "0\r\nX-Trailer: t\r\n\r\n" : "0\r\n\r\n"));
  if (f.kind === "garbage-after") parts.push(bin("GARBAGE\r\n"));
  let bytes = Buffer.concat(parts);
  if (f.kind === "cut-short") bytes = bytes.subarray(0, Math.max(1, bytes.length - 1 - (f.at % bytes.length)));
  // Trailers are well framed (uWS reads and drops them); nothing else is, unless no chunk was
  // there to be spoiled.
  const harmless = f.kind === "none" || f.kind === "trailers" || (pick < 0 && f.kind !== "no-last-chunk" && f.kind !== "cut-short" && !f.kind.startsWith("te-") && f.kind !== "garbage-after");
  return { bytes, body: Buffer.concat(data), wellFramed: harmless };
}

test.serial("generated chunked bodies cut into random writes: well-framed ones arrive intact (or 413), the rest are answered or closed", async (t) => {
  const tally = new Tally();
  await batches("bodies", ["http"], bodyArb, 150, async (c) => {
    const tag = nextTag("body");
    const { bytes, body, wellFramed: framed } = chunkedRequest(c, tag);
    const wellFramed = framed && c.cutting.reset === undefined;
    const got = await drive(ports.http, cut(bytes, c.cutting), {
      gaps: c.cutting.gaps,
      reset: c.cutting.reset,
      halfClose: c.cutting.halfClose && !wellFramed,
      answered: (data) => parseResponses(data, ["POST"]).responses.length > 0,
      quietMs: wellFramed ? 5000 : 50,
    });
    const answer = parseResponses(got.data, ["POST"]).responses[0];
    tally.add(`${framed ? "well-framed" : c.fault.kind}: ${answer === undefined ? got.ending : answer.status}`);
    const atBackend = receivedWithTag(tag);
    if (wellFramed) {
      const expected = body.length > MAX_BODY ? 413 : 200;
      if (answer?.status !== expected) throw new Error(`expected ${expected}, got ${answer?.status ?? got.ending} for ${show(bytes)}`);
      if (expected === 200 && (atBackend.length !== 1 || !atBackend[0]!.body.equals(body))) {
        throw new Error(`the backend got ${atBackend.length} request(s), body ${show(atBackend[0]?.body ?? Buffer.alloc(0))} for ${show(bytes)}`);
      }
    }
    if (atBackend.length > 1) throw new Error(`the backend got ${atBackend.length} requests for ${show(bytes)}`);
  });
  backendSawOnlyWhatWasSent();
  t.log(`seed ${SEED}: ${tally.total} bodies: ${tally}`);
  t.pass();
});

// ---------------------------------------------------------------------------------------------
// ClientHellos, real ones mutated, re-cut into records, truncated and split, on the passthrough
// port and on the HTTPS port shared with passthrough.

const mutation = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x16, 0x03) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant("length" as const), field: fc.constantFrom(3, 6), value: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ kind: fc.constant("records" as const), sizes: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 80 }) }),
  fc.record({ kind: fc.constant("append" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(hello: Buffer, m: Mutation): Buffer {
  const b = Buffer.from(hello);
  const at = (n: number) => (b.length === 0 ? 0 : n % b.length);
  switch (m.kind) {
    case "flip":
      if (b.length > 0) b[at(m.at)] = b[at(m.at)]! ^ m.bits;
      return b;
    case "set":
      if (b.length > 0) b[at(m.at)] = m.value;
      return b;
    case "truncate":
      return b.subarray(0, at(m.at));
    case "insert":
      return Buffer.concat([b.subarray(0, at(m.at)), m.bytes, b.subarray(at(m.at))]);
    case "delete":
      return Buffer.concat([b.subarray(0, at(m.at)), b.subarray(at(m.at) + m.count)]);
    case "length":
      // The record's length (offset 3) or the handshake message's low 16 bits (offset 6).
      if (b.length >= m.field + 2) b.writeUInt16BE(m.value, m.field);
      return b;
    case "records": {
      // Re-cut into records of the given sizes; only meaningful on an intact single record.
      if (b.length < 5 || b[0] !== 22 || b.readUInt16BE(3) !== b.length - 5) return b;
      return toRecords(handshakeBytes(b), m.sizes);
    }
    case "append":
      return Buffer.concat([b, m.bytes]);
  }
}

const helloArb = fc.record({
  hello: fc.nat(),
  mutations: fc.array(mutation, { maxLength: 3 }),
  shared: fc.boolean(),
  cutting,
});

test.serial("generated ClientHellos on the passthrough and shared ports: each is answered or closed, both ports serve on", async (t) => {
  const tally = new Tally();
  await batches("hellos", ["tls", "shared"], helloArb, 100, async (c) => {
    const base = hellos[c.hello % hellos.length]!;
    const bytes = c.mutations.reduce<Buffer>(mutate, base.bytes);
    const port = c.shared ? ports.shared : ports.tls;
    // An intact hello for a.example.com is piped to the backend, one for b.example.com on the
    // shared port reaches its terminating app: either way a ServerHello comes back.
    const served =
      c.mutations.length === 0 && c.cutting.reset === undefined && (base.name.endsWith("a.example.com") || (c.shared && base.name === "b.example.com"));
    const got: Driven = await drive(port, cut(bytes, c.cutting), {
      gaps: c.cutting.gaps,
      reset: c.cutting.reset,
      halfClose: c.cutting.halfClose && !served,
      quietMs: served ? 5000 : 50,
    });
    tally.add(`${c.shared ? "shared" : "passthrough"} ${c.mutations.length === 0 ? "intact" : "mutated"}: ${got.data.length > 0 ? `0x${got.data[0]!.toString(16)}...` : ""}${got.ending}`);
    if (served && got.data[0] !== 22) {
      throw new Error(`an intact hello for ${base.name} got ${show(got.data)} (${got.ending}) on the ${c.shared ? "shared" : "passthrough"} port`);
    }
  });
  t.log(`seed ${SEED}: ${tally.total} hellos: ${tally}`);
  t.pass();
});

// ---------------------------------------------------------------------------------------------
// PROXY protocol headers, v1 and v2, valid ones and mutated ones, before an HTTP request (on an
// HTTP port) or a ClientHello (on a passthrough port).

const V2_SIGNATURE = Buffer.from("\r\n\r\n\0\r\nQUIT\n", "latin1");
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const port16 = fc.nat(65535);

function ipv6Text(bytes: Uint8Array, spelling: string): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  const full = groups.join(":");
  if (spelling === "padded") return groups.map((g) => g.padStart(4, "0")).join(":");
  if (spelling === "upper") return full.toUpperCase();
  if (spelling === "compressed") return new SocketAddress({ address: full, family: "ipv6" }).address;
  return full;
}

interface ProxyHeader {
  bytes: Buffer;
  /** The client address the backend must be told; undefined: the connection's own. */
  source: string | undefined;
}

const v1Header: fc.Arbitrary<ProxyHeader> = fc.oneof(
  fc.tuple(ipv4, ipv4, port16, port16).map(([s, d, sp, dp]) => ({
    bytes: bin(`PROXY TCP4 ${s.join(".")} ${d.join(".")} ${sp} ${dp}\r\n`),
    source: s.join("."),
  })),
  fc.tuple(ipv6, ipv6, port16, port16, fc.constantFrom("plain", "padded", "upper", "compressed")).map(([s, d, sp, dp, spelling]) => ({
    bytes: bin(`PROXY TCP6 ${ipv6Text(s, spelling)} ${ipv6Text(d, spelling)} ${sp} ${dp}\r\n`),
    source: ipv6Text(s, "plain"),
  })),
  fc.stringMatching(/^[ -~]{0,40}$/).map((rest) => ({ bytes: bin(`PROXY UNKNOWN${rest.length > 0 ? " " + rest : ""}\r\n`), source: undefined })),
);

const v2Header: fc.Arbitrary<ProxyHeader> = fc
  .record({
    local: fc.boolean(),
    family: fc.constantFrom(0x11, 0x12, 0x21, 0x22, 0x31, 0x32, 0x00),
    v4: fc.tuple(ipv4, ipv4),
    v6: fc.tuple(ipv6, ipv6),
    ports: fc.tuple(port16, port16),
    unix: fc.uint8Array({ minLength: 216, maxLength: 216 }),
    tlvs: fc.uint8Array({ maxLength: 40 }),
  })
  .map((h) => {
    const fam = h.family >> 4;
    const address =
      fam === 1
        ? Buffer.concat([Buffer.from(h.v4[0]), Buffer.from(h.v4[1]), u16(h.ports[0]), u16(h.ports[1])])
        : fam === 2
          ? Buffer.concat([Buffer.from(h.v6[0]), Buffer.from(h.v6[1]), u16(h.ports[0]), u16(h.ports[1])])
          : fam === 3
            ? Buffer.from(h.unix)
            : Buffer.alloc(0);
    const block = Buffer.concat([address, Buffer.from(h.tlvs)]);
    const bytes = Buffer.concat([V2_SIGNATURE, Buffer.from([h.local ? 0x20 : 0x21, h.family]), u16(block.length), block]);
    const named = !h.local && (fam === 1 || fam === 2) && (h.family & 0x0f) !== 0;
    return { bytes, source: !named ? undefined : fam === 1 ? h.v4[0].join(".") : ipv6Text(h.v6[0], "plain") };
  });

/** Half the headers are left valid. */
const headerMutations: fc.Arbitrary<Mutation[]> = fc.oneof(
  fc.constant<Mutation[]>([]),
  fc.array(mutation.filter((m) => m.kind !== "records"), { minLength: 1, maxLength: 2 }),
);

const proxyArb = fc.record({
  header: fc.oneof(v1Header, v2Header),
  mutations: headerMutations,
  tls: fc.boolean(),
  cutting,
});

/** Whether `got` (X-Forwarded-For) is the address `expected`, in any spelling. */
function sameAddress(got: string, expected: string): boolean {
  const family = isIPv4(expected) ? "ipv4" : "ipv6";
  const list = new BlockList();
  try {
    list.addAddress(got, family);
  } catch {
    return false;
  }
  return list.check(expected, family);
}

test.serial("generated PROXY protocol headers: valid ones name the client, the rest are answered or closed", async (t) => {
  const tally = new Tally();
  const aHello = hellos[0]!.bytes;
  await batches("proxy", ["proxyHttp", "proxyTls"], proxyArb, 150, async (c) => {
    const tag = nextTag("proxy");
    const header = c.mutations.reduce<Buffer>(mutate, c.header.bytes);
    const valid = c.mutations.length === 0;
    const answerable = valid && c.cutting.reset === undefined;
    const payload = c.tls ? aHello : bin(`GET /who HTTP/1.1\r\nHost: alive.test\r\nX-Tag: ${tag}\r\n\r\n`);
    const bytes = Buffer.concat([header, payload]);
    const got = await drive(c.tls ? ports.proxyTls : ports.proxyHttp, cut(bytes, c.cutting), {
      gaps: c.cutting.gaps,
      reset: c.cutting.reset,
      halfClose: c.cutting.halfClose && !answerable,
      answered: c.tls ? undefined : (data) => parseResponses(data, ["GET"]).responses.length > 0,
      quietMs: answerable ? 5000 : 50,
    });
    const answer = c.tls ? undefined : parseResponses(got.data, ["GET"]).responses[0];
    tally.add(`${c.tls ? "tls" : "http"} ${valid ? "valid" : "mutated"}: ${answer?.status ?? got.ending}`);
    const atBackend = receivedWithTag(tag);
    if (atBackend.length > 1) throw new Error(`the backend got ${atBackend.length} requests for ${show(bytes)}`);
    if (!answerable) return;
    if (c.tls) {
      if (got.data[0] !== 22) throw new Error(`a valid header and hello got ${show(got.data)} (${got.ending}) for ${show(header)}`);
      return;
    }
    if (answer?.status !== 200 || atBackend.length !== 1) throw new Error(`a valid header got ${answer?.status ?? got.ending}: ${show(header)}`);
    const forwardedFor = headerBytes(atBackend[0]!, "x-forwarded-for")?.toString("latin1") ?? "";
    if (!sameAddress(forwardedFor, c.header.source ?? "127.0.0.1")) {
      throw new Error(`X-Forwarded-For ${forwardedFor}, expected ${c.header.source ?? "the peer"} for ${show(header)}`);
    }
  });
  backendSawOnlyWhatWasSent();
  t.log(`seed ${SEED}: ${tally.total} PROXY headers: ${tally}`);
  t.pass();
});

test.serial("after all of it the data plane is up, serves every port, and its memory is bounded", async (t) => {
  await stillServing("every property");
  const end = await gateway.memory();
  const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
  t.log(`data plane RSS ${mib(baseline.rss)} -> ${mib(end.rss)} MiB, heap after GC ${mib(baseline.heapUsed)} -> ${mib(end.heapUsed)} MiB`);
  t.is(gateway.exited(), undefined);
  t.true(end.heapUsed < baseline.heapUsed + 32 * 1024 * 1024, "heap after GC grew by less than 32 MiB");
  t.true(end.rss < baseline.rss + 128 * 1024 * 1024, "RSS grew by less than 128 MiB");
  backendSawOnlyWhatWasSent();
});
