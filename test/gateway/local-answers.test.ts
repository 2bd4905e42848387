// The answers the gateway gives itself, for every method uWebSockets.js delivers, on fresh,
// reused, pipelined and HTTPS connections: the status; a HEAD answer without body bytes and with
// the Content-Length the GET gets; 204/304 without a Content-Length; the next request on the
// connection answered by the backend, as itself; and a new connection answered afterwards (the
// gateway never aborts). Proxied 200/204/304 answers run alongside as the control.
import { createServer, type Server, type Socket } from "node:net";
import test from "ava";
import { DataPlane } from "../../gateway/data-plane.js";
import type { PortInput, RateLimitConfig, SnapshotInput } from "../../gateway/snapshot.js";
import { freePort } from "../support/net.js";
import { RawClient, type RawClientTls } from "../support/raw-client.js";
import { headerBytes, recordingBackend, type RecordingBackend, type RawResponse, responseHeader } from "../support/raw-http.js";
import { seededRandom } from "../support/seeded-random.js";
import { cluster, snapshot } from "../support/snapshot.js";
import { makeCa } from "../support/tls-certs.js";

const SEED = process.env["FC_SEED"] === undefined ? Date.now() % 2_147_483_647 : Number(process.env["FC_SEED"]);
const HOST = "shop.example.com";

/** What uWebSockets.js 20.30 hands to the handler; it closes the connection for other methods. */
const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"] as const;
/** Methods that carry a small body here (a Content-Length of 5), except where the answer sets one. */
const WITH_BODY = new Set(["POST", "PUT", "PATCH"]);

// Pipelining on: the pipelined shapes need a request written behind a pending one to wait.
const LIMITS = { maxBodyBytes: 64, maxUrlBytes: 256, maxHeaderBytes: 512, pipelining: true };
const SLOW_ROUTE_MS = 150;

// ---------------------------------------------------------------------------------------------
// Requests

interface RequestSpec {
  target: string;
  headers?: [string, string | Buffer][];
  /** A Content-Length body; "chunked": one chunk of this many bytes. */
  body?: Buffer | { chunked: number };
}

function requestBytes(method: string, tag: string, spec: RequestSpec): Buffer {
  const lines: Buffer[] = [Buffer.from(`${method} ${spec.target} HTTP/1.1\r\nhost: ${HOST}\r\nx-tag: ${tag}\r\n`, "latin1")];
  for (const [name, value] of spec.headers ?? []) {
    lines.push(Buffer.from(`${name}: `, "latin1"), Buffer.isBuffer(value) ? value : Buffer.from(value, "latin1"), Buffer.from("\r\n"));
  }
  let body: Buffer = Buffer.alloc(0);
  const b = spec.body ?? (WITH_BODY.has(method) ? Buffer.from("hello") : undefined);
  if (Buffer.isBuffer(b)) {
    lines.push(Buffer.from(`content-length: ${b.length}\r\n`));
    body = b;
  } else if (b !== undefined) {
    lines.push(Buffer.from("transfer-encoding: chunked\r\n"));
    body = Buffer.from(`${b.chunked.toString(16)}\r\n${"c".repeat(b.chunked)}\r\n0\r\n\r\n`);
  }
  lines.push(Buffer.from("\r\n"), body);
  return Buffer.concat(lines);
}

/** The request that follows each case on its connection: the backend answers it, echoing the tag. */
const nextRequest = (tag: string) => requestBytes("GET", tag, { target: "/ok/next", body: Buffer.alloc(0) });

// ---------------------------------------------------------------------------------------------
// The answers under test

interface Answer {
  id: string;
  status: number;
  /** The gateway answers without the recording backend seeing the request. */
  local: boolean;
  request(method: string): RequestSpec;
  /** x-meshgate-overloaded, when the answer names a limit. */
  overloaded?: string;
  /** A header the answer must carry. */
  needs?: string;
}

const ANSWERS: Answer[] = [
  { id: "404 no route", status: 404, local: true, request: () => ({ target: "/nowhere/x" }) },
  // Exact method matches: every method misses the route it is sent to.
  { id: "404 method", status: 404, local: true, request: (m) => ({ target: m === "POST" ? "/by-method-get/x" : "/by-method-post/x" }) },
  { id: "301 redirect", status: 301, local: true, request: () => ({ target: "/redir301/x?q=1" }), needs: "location" },
  { id: "302 redirect", status: 302, local: true, request: () => ({ target: "/redir302/x" }), needs: "location" },
  { id: "500 unresolved", status: 500, local: true, request: () => ({ target: "/unresolved/x" }) },
  { id: "503 empty cluster", status: 503, local: true, request: () => ({ target: "/empty/x" }) },
  { id: "503 refused", status: 503, local: true, request: () => ({ target: "/refused/x" }) },
  { id: "503 max-requests", status: 503, local: true, request: () => ({ target: "/busy-req/x" }), overloaded: "max-requests" },
  { id: "503 max-pending", status: 503, local: true, request: () => ({ target: "/busy-pend/x" }), overloaded: "max-pending" },
  { id: "504 route timeout", status: 504, local: true, request: () => ({ target: "/slow/x" }) },
  { id: "413 content-length", status: 413, local: true, request: () => ({ target: "/ok/big", body: Buffer.alloc(100, 0x62) }) },
  { id: "413 chunked", status: 413, local: true, request: () => ({ target: "/ok/big", body: { chunked: 100 } }) },
  { id: "414", status: 414, local: true, request: () => ({ target: "/ok/" + "u".repeat(300) }) },
  { id: "431", status: 431, local: true, request: () => ({ target: "/ok/x", headers: [["x-pad", "p".repeat(600)]] }) },
  { id: "429 Local", status: 429, local: true, request: () => ({ target: "/local-limit/x" }), needs: "retry-after" },
  { id: "429 Global", status: 429, local: true, request: () => ({ target: "/global-limit/x" }), needs: "retry-after" },
  { id: "400 path", status: 400, local: true, request: () => ({ target: "/ok/a%zz" }) },
  { id: "400 header DEL", status: 400, local: true, request: () => ({ target: "/ok/x", headers: [["x-bad", Buffer.from([0x61, 0x7f, 0x62])]] }) },
  // Control: proxied answers.
  { id: "200 proxied", status: 200, local: false, request: () => ({ target: "/ok/x" }) },
  { id: "204 proxied", status: 204, local: false, request: () => ({ target: "/s204/x" }) },
  { id: "304 proxied", status: 304, local: false, request: () => ({ target: "/s304/x" }) },
];

type ShapeName = "fresh" | "sequential" | "pipelined" | "https" | "https-pipelined";
const SHAPES: { name: ShapeName; tls: boolean; reuse: boolean; pipelined: boolean }[] = [
  // A new connection per case: the request under test is its first.
  { name: "fresh", tls: false, reuse: false, pipelined: false },
  // One connection for all of a method's cases: next written once the answer was read.
  { name: "sequential", tls: false, reuse: true, pipelined: false },
  // Next written 20 ms after the request under test, in its own write (before slow answers).
  { name: "pipelined", tls: false, reuse: true, pipelined: true },
  { name: "https", tls: true, reuse: true, pipelined: false },
  { name: "https-pipelined", tls: true, reuse: true, pipelined: true },
];
const PIPELINE_GAP_MS = 20;

// ---------------------------------------------------------------------------------------------
// The gateway under test

/** A backend that takes requests and never answers; counts the request heads it got. */
interface SilentBackend {
  port: number;
  heads(): number;
  /** A request tagged `tag` arrived. */
  saw(tag: string): boolean;
  close(): Promise<void>;
}

async function silentBackend(): Promise<SilentBackend> {
  const sockets = new Set<Socket>();
  let seen = "";
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on("data", (d: Buffer) => (seen += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    port: address.port,
    heads: () => seen.split(" HTTP/1.1\r\n").length - 1,
    saw: (tag) => seen.includes(`\r\nx-tag: ${tag}\r\n`),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function limit(type: "Local" | "Global"): RateLimitConfig {
  return { policy: "default/one", bucket: `default/one-${type}`, id: "0", selectors: [], limit: { requests: 1, unit: "Minute" }, type };
}

type ActionInput = NonNullable<PortInput["listeners"][number]["actions"]>[number];

/** One route per path prefix (two with method matches); paths no prefix covers get 404. */
function port(portNumber: number, tls: PortInput["tls"]): PortInput {
  const routes: { prefix: string; method?: string; action: ActionInput }[] = [];
  const add = (prefix: string, action: Omit<ActionInput, "route" | "rule">, method?: string) =>
    routes.push({ prefix, ...(method === undefined ? {} : { method }), action: { route: `default${prefix}`, rule: "0", ...action } });
  const app = [{ cluster: "app", weight: 1 }];
  add("/ok", { backends: app });
  add("/s204", { backends: app });
  add("/s304", { backends: app });
  add("/redir301", { filters: [{ type: "RequestRedirect", requestRedirect: { hostname: "moved.example.com", statusCode: 301 } }] });
  add("/redir302", { filters: [{ type: "RequestRedirect", requestRedirect: { hostname: "moved.example.com", statusCode: 302 } }] });
  add("/unresolved", { backends: [{ cluster: null, weight: 1 }] });
  add("/empty", { backends: [{ cluster: "empty", weight: 1 }] });
  add("/refused", { backends: [{ cluster: "refused", weight: 1 }] });
  add("/busy-req", { backends: [{ cluster: "busy-req", weight: 1 }] });
  add("/busy-pend", { backends: [{ cluster: "busy-pend", weight: 1 }] });
  add("/slow", { backends: [{ cluster: "silent", weight: 1 }], timeouts: { requestMs: SLOW_ROUTE_MS } });
  add("/local-limit", { backends: app, rateLimits: [limit("Local")] });
  add("/global-limit", { backends: app, rateLimits: [limit("Global")] });
  add("/by-method-get", { backends: app }, "GET");
  add("/by-method-post", { backends: app }, "POST");
  return {
    port: portNumber,
    address: "127.0.0.1",
    protocol: tls === undefined ? "HTTP" : "HTTPS",
    ...(tls === undefined ? {} : { tls }),
    client: LIMITS,
    listeners: [
      {
        name: "default/gw/http",
        gateway: "default/gw",
        entries: routes.map((r, i) => ({
          hostnames: [],
          match: { path: { type: "PathPrefix" as const, value: r.prefix }, ...(r.method === undefined ? {} : { method: r.method }) },
          action: i,
        })),
        actions: routes.map((r) => r.action),
      },
    ],
  };
}

interface Gateway {
  http: number;
  https: number;
  tls: RawClientTls;
  backend: RecordingBackend;
  silent: SilentBackend;
}

async function withGateway(run: (g: Gateway) => Promise<void>): Promise<void> {
  const backend = await recordingBackend();
  const defaultAnswer = backend.answer;
  backend.answer = (req, res, recorded) => {
    const tag = headerBytes(recorded, "x-tag")?.toString("latin1") ?? "";
    if (req.url?.startsWith("/s204") === true) {
      res.writeHead(204, { "x-echo-tag": tag });
      res.end();
    } else if (req.url?.startsWith("/s304") === true) {
      res.writeHead(304, { "x-echo-tag": tag, etag: '"v1"' });
      res.end();
    } else {
      defaultAnswer(req, res, recorded);
    }
  };
  const silent = await silentBackend();
  const dead = await freePort();
  const [http, https] = [await freePort(), await freePort()];
  const ca = await makeCa();
  const leaf = await ca.issue([HOST]);
  const tls = { certificates: [{ name: "default/shop", certPem: leaf.chainPem, keyPem: leaf.keyPem }], fallback: "default/shop" };
  const never = { connectMs: 1000, idleMs: 60_000, responseHeadMs: 0 };
  const noRetry = { attempts: 0 };
  const input: SnapshotInput = {
    version: 1,
    ports: [port(http, undefined), port(https, tls)],
    clusters: [
      cluster("app", [backend.port]),
      cluster("empty", []),
      cluster("refused", [dead], { retry: noRetry, outlier: { consecutiveFailures: 0 } }),
      cluster("silent", [silent.port], { retry: noRetry, timeouts: never }),
      cluster("busy-req", [silent.port], { retry: noRetry, timeouts: never, circuitBreaker: { maxRequests: 1 } }),
      cluster("busy-pend", [silent.port], {
        retry: noRetry,
        timeouts: never,
        connectionsPerEndpoint: 1,
        circuitBreaker: { maxPendingRequests: 0 },
      }),
    ],
  };
  const plane = new DataPlane();
  const holders: RawClient[] = [];
  try {
    const result = await plane.apply(snapshot(input));
    if (result.portErrors.length > 0) throw new Error(JSON.stringify(result.portErrors));
    // One request held upstream on each limited cluster makes every further one overflow; one
    // request to each rate-limited route uses up its limit of one a minute.
    for (const path of ["/busy-req/hold", "/busy-pend/hold"]) {
      const holder = await RawClient.open(http);
      holders.push(holder);
      holder.write(requestBytes("GET", "holder", { target: path }));
    }
    const deadline = Date.now() + 5000;
    while (silent.heads() < 2) {
      if (Date.now() > deadline) throw new Error("the holding requests did not reach the silent backend");
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const path of ["/local-limit/warm", "/global-limit/warm"]) {
      const c = await RawClient.open(http);
      c.write(requestBytes("GET", "warm", { target: path }));
      const [r] = await c.read(["GET"]);
      c.close();
      if (r?.status !== 200) throw new Error(`warm-up ${path} answered ${r?.status ?? "nothing"}`);
    }
    await run({ http, https, tls: { ca: ca.certPem, servername: HOST }, backend, silent });
  } finally {
    for (const h of holders) h.close();
    await plane.drain(1000);
    await backend.close();
    await silent.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Checks

const head = (r: RawResponse | undefined) => (r === undefined ? "(no answer)" : r.head.split("\r\n").slice(0, 1).join(" | "));
const value = (r: RawResponse, name: string) => responseHeader(r, name)?.toString("latin1");

/**
 * Problems with the answer to the request under test. Body bytes after a HEAD answer show as
 * the next answer failing to parse, or as bytes left over (runSequence).
 */
function checkAnswer(answer: Answer, method: string, r: RawResponse): string[] {
  const out: string[] = [];
  if (r.status !== answer.status) out.push(`status ${r.status}, expected ${answer.status} (${head(r)}; body ${JSON.stringify(r.body.toString("latin1").slice(0, 80))})`);
  if (answer.overloaded !== undefined && value(r, "x-meshgate-overloaded") !== answer.overloaded) {
    out.push(`x-meshgate-overloaded ${value(r, "x-meshgate-overloaded") ?? "missing"}, expected ${answer.overloaded}`);
  }
  if (answer.needs !== undefined && value(r, answer.needs) === undefined) out.push(`no ${answer.needs} header`);
  const length = value(r, "content-length");
  const chunked = value(r, "transfer-encoding");
  if (r.status === 204 || r.status === 304) {
    if (length !== undefined) out.push(`${r.status} with content-length ${length}`);
    if (chunked !== undefined) out.push(`${r.status} with transfer-encoding ${chunked}`);
  } else if (answer.local && r.status === answer.status) {
    if (length === undefined) out.push("local answer without content-length");
    if (chunked !== undefined) out.push(`local answer with transfer-encoding ${chunked}`);
    if (value(r, "x-request-id") === undefined) out.push("local answer without x-request-id");
  }
  const count = r.headers.filter(([n]) => n === "content-length").length;
  if (count > 1) out.push(`${count} content-length headers`);
  if (!answer.local) {
    const echoed = value(r, "x-echo-tag");
    if (echoed === undefined) out.push("proxied answer without the backend's x-echo-tag");
  }
  return out;
}

interface Tally {
  cases: number;
  requests: number;
  /** Content-Length of local answers by answer id and method (GET and HEAD compared). */
  lengths: Map<string, Map<string, Set<string>>>;
  statuses: Map<string, number>;
  problems: string[];
  reconnects: number;
  /** Pipelined cases whose next request went out before any byte of the answer had arrived. */
  pipelinedBeforeAnswer: Map<string, number>;
}

function note(tally: Tally, answer: Answer, method: string, r: RawResponse): void {
  tally.statuses.set(`${answer.id} -> ${r.status}`, (tally.statuses.get(`${answer.id} -> ${r.status}`) ?? 0) + 1);
  if (!answer.local || r.status !== answer.status) return;
  const byMethod = tally.lengths.get(answer.id) ?? new Map<string, Set<string>>();
  tally.lengths.set(answer.id, byMethod);
  const set = byMethod.get(method) ?? new Set<string>();
  byMethod.set(method, set);
  set.add(value(r, "content-length") ?? "(none)");
}

/** Fisher-Yates with the run's seed: each connection sees the answers in its own order. */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** A new connection, one GET: the gateway still answers. */
async function stillAnswers(port: number, tls: RawClientTls | undefined, tag: string): Promise<string | undefined> {
  const c = await RawClient.open(port, tls).catch((err: Error) => err);
  if (c instanceof Error) return `a new connection failed: ${c.message}`;
  try {
    c.write(nextRequest(tag));
    const [r] = await c.read(["GET"]);
    if (r?.status !== 200 || value(r, "x-echo-tag") !== tag) return `a new connection got ${head(r)}`;
    return undefined;
  } finally {
    c.close();
  }
}

/** Runs one shape for one method: every answer, in a seeded order. */
async function runSequence(
  g: Gateway,
  shape: (typeof SHAPES)[number],
  method: string,
  random: () => number,
  tally: Tally,
): Promise<void> {
  const portNumber = shape.tls ? g.https : g.http;
  const tls = shape.tls ? g.tls : undefined;
  let conn: RawClient | undefined;
  let index = 0;
  for (const answer of shuffled(ANSWERS, random)) {
    const where = `[${shape.name} ${method} "${answer.id}"]`;
    const tag = `${shape.name}-${method}-${index++}`;
    const problems: string[] = [];
    if (conn === undefined || conn.closed || !shape.reuse) {
      conn?.close();
      if (conn !== undefined && shape.reuse) tally.reconnects++;
      conn = await RawClient.open(portNumber, tls);
    }
    const before = g.backend.received.length;
    const spec = answer.request(method);
    conn.write(requestBytes(method, tag, spec));
    tally.requests++;
    let first: RawResponse | undefined;
    let next: RawResponse | undefined;
    if (shape.pipelined) {
      // 20 ms later, and once the gateway has surely read the request under test (its answer
      // began, or a backend got it): two requests the gateway reads at once are the uWS limit
      // tested on its own below, and a busy event loop would read two writes 20 ms apart at once.
      const c = conn;
      const written = Date.now();
      const upstream = () => g.silent.saw(tag) || g.backend.received.some((r) => headerBytes(r, "x-tag")?.toString("latin1") === tag);
      while (Date.now() - written < PIPELINE_GAP_MS || (c.unread().length === 0 && !c.closed && !upstream() && Date.now() - written < 3000)) {
        await new Promise((r) => setTimeout(r, 2));
      }
      if (c.unread().length === 0) tally.pipelinedBeforeAnswer.set(answer.id, (tally.pipelinedBeforeAnswer.get(answer.id) ?? 0) + 1);
      conn.write(nextRequest(`${tag}-next`));
      tally.requests++;
      [first, next] = await conn.read([method, "GET"]);
    } else {
      [first] = await conn.read([method]);
      if (first !== undefined && !conn.closed) {
        conn.write(nextRequest(`${tag}-next`));
        tally.requests++;
        [next] = await conn.read(["GET"]);
      }
    }
    if (first === undefined) {
      problems.push(`no answer (connection ${conn.closed ? "closed" : "open"}; bytes ${JSON.stringify(conn.unread().toString("latin1").slice(0, 120))})`);
    } else {
      note(tally, answer, method, first);
      problems.push(...checkAnswer(answer, method, first));
      const closing = value(first, "connection")?.toLowerCase() === "close";
      if (closing) {
        if (!(await conn.waitClosed(1000))) problems.push("connection: close, but the connection stayed open");
      } else if (next === undefined) {
        problems.push(`the next request got no answer (connection ${conn.closed ? "closed" : "open"}; bytes ${JSON.stringify(conn.unread().toString("latin1").slice(0, 120))})`);
      } else if (next.status !== 200 || value(next, "x-echo-tag") !== `${tag}-next`) {
        problems.push(`the next request got ${head(next)} tagged ${value(next, "x-echo-tag") ?? "(none)"}`);
      }
      if (conn.unread().length > 0) problems.push(`bytes after the answers: ${JSON.stringify(conn.unread().toString("latin1").slice(0, 120))}`);
    }
    // The recording backend sees the request under test only when it is proxied to it.
    const seen = g.backend.received.slice(before).filter((r) => headerBytes(r, "x-tag")?.toString("latin1") === tag).length;
    const expectedSeen = answer.local ? 0 : 1;
    if (seen !== expectedSeen) problems.push(`the backend saw the request ${seen} times, expected ${expectedSeen}`);
    const alive = await stillAnswers(portNumber, tls, `${tag}-alive`);
    if (alive !== undefined) problems.push(alive);
    tally.cases++;
    for (const p of problems) tally.problems.push(`${where} ${p}`);
  }
  conn?.close();
}

// ---------------------------------------------------------------------------------------------

test("every method x every local answer x fresh / sequential / pipelined / HTTPS connections", async (t) => {
  t.timeout(60_000);
  const started = Date.now();
  await withGateway(async (g) => {
    const random = seededRandom(SEED);
    const tally: Tally = { cases: 0, requests: 0, lengths: new Map(), statuses: new Map(), problems: [], reconnects: 0, pipelinedBeforeAnswer: new Map() };
    // Sequences run side by side; each has its own connection and a seeded answer order.
    const runs: Promise<void>[] = [];
    for (const shape of SHAPES) {
      for (const method of METHODS) runs.push(runSequence(g, shape, method, seededRandom(Math.floor(random() * 2 ** 31)), tally));
    }
    await Promise.all(runs);

    // A HEAD answer carries the Content-Length the GET answer does.
    for (const [id, byMethod] of tally.lengths) {
      const get = [...(byMethod.get("GET") ?? [])];
      const headLengths = [...(byMethod.get("HEAD") ?? [])];
      if (get.length !== 1 || headLengths.length !== 1 || get[0] !== headLengths[0]) {
        tally.problems.push(`["${id}"] content-length GET ${JSON.stringify(get)} vs HEAD ${JSON.stringify(headLengths)}`);
      }
    }
    t.log(`seed ${SEED} (FC_SEED=${SEED} replays the order)`);
    t.log(
      `${METHODS.length} methods x ${ANSWERS.length} answers x ${SHAPES.length} shapes = ${tally.cases} cases, ` +
        `${tally.requests} requests on the connections, ${tally.reconnects} reconnects, ${Date.now() - started} ms`,
    );
    t.log(`next request written before the answer arrived: ${[...tally.pipelinedBeforeAnswer].sort().map(([k, n]) => `${k}: ${n}`).join("; ")}`);
    t.log([...tally.statuses].sort().map(([k, n]) => `${k}: ${n}`).join("; "));
    t.is(tally.cases, METHODS.length * ANSWERS.length * SHAPES.length);
    t.deepEqual(tally.problems.slice(0, 40), [], `${tally.problems.length} problems`);
  });
});

test("methods uWebSockets.js does not deliver: the connection closes without an answer, the backend sees nothing, the gateway answers the next connection", async (t) => {
  await withGateway(async (g) => {
    // uWS 20.30 knows a fixed list of methods, upper-case only; WebDAV's, QUERY and lower-case
    // spellings are not on it.
    const methods = ["PURGE", "PROPFIND", "MKCOL", "QUERY", "LINK", "get", "Get", "post", "head"];
    const problems: string[] = [];
    let cases = 0;
    for (const tls of [undefined, g.tls]) {
      const portNumber = tls === undefined ? g.http : g.https;
      for (const method of methods) {
        for (const target of ["/ok/x", "/nowhere/x"]) {
          const where = `[${tls === undefined ? "http" : "https"} ${method} ${target}]`;
          const tag = `unknown-${cases++}`;
          const c = await RawClient.open(portNumber, tls);
          c.write(requestBytes(method, tag, { target }));
          if (!(await c.waitClosed(3000))) problems.push(`${where} the connection stayed open`);
          if (c.unread().length > 0) problems.push(`${where} answered ${JSON.stringify(c.unread().toString("latin1").slice(0, 80))}`);
          c.close();
          const alive = await stillAnswers(portNumber, tls, `${tag}-alive`);
          if (alive !== undefined) problems.push(`${where} ${alive}`);
        }
      }
    }
    const reached = g.backend.received.filter((r) => /^unknown-\d+$/.test(headerBytes(r, "x-tag")?.toString("latin1") ?? ""));
    t.log(`${cases} requests with ${methods.length} methods over HTTP and HTTPS`);
    t.deepEqual(problems, []);
    t.deepEqual(reached.map((r) => r.method), []);
  });
});

/** Keeps the event loop, which the in-process gateway shares, busy for `ms`. */
function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // spin
  }
}

test("requests the gateway reads at once: behind a local answer both are answered; behind a pending one, the known uWS limit closes the connection", async (t) => {
  await withGateway(async (g) => {
    // A local answer is written before uWS parses what follows it, so a GET or HEAD answered
    // locally may share a write with the next request, and the HEAD's answer carries no body.
    for (const method of ["GET", "HEAD"]) {
      const c = await RawClient.open(g.http);
      c.write(Buffer.concat([requestBytes(method, "same-404", { target: "/nowhere/x" }), nextRequest("same-404-next")]));
      const [first, next] = await c.read([method, "GET"]);
      t.is(first?.status, 404, method);
      t.is(first === undefined ? undefined : value(first, "content-length"), "32", method);
      t.is(next?.status, 200, method);
      t.is(next === undefined ? undefined : value(next, "x-echo-tag"), "same-404-next", method);
      t.is(c.unread().length, 0, method);
      c.close();
    }

    // README, known limits: uWS 20.30 closes the connection when it parses a request while the
    // one before is unanswered. The gateway pauses reading while a request is pending, which
    // helps only for a request that arrives after the pending one was read: one in the same write
    // meets the limit, and so does one written 20 ms later when the event loop was busy for
    // that long, since uWS then reads both at once. Neither request is answered and the backend
    // sees neither. (When this changes, both should be answered in order: update this test.)
    const shapes: [string, (c: RawClient) => void][] = [
      ["same write", (c) => c.write(Buffer.concat([requestBytes("GET", "same-a", { target: "/ok/a" }), nextRequest("same-b")]))],
      [
        "two writes 20 ms apart, the loop busy",
        (c) => {
          c.write(requestBytes("GET", "busy-a", { target: "/ok/a" }));
          busy(20);
          c.write(nextRequest("busy-b"));
          busy(20);
        },
      ],
    ];
    for (const [name, send] of shapes) {
      const before = g.backend.received.length;
      const c = await RawClient.open(g.http);
      send(c);
      t.true(await c.waitClosed(3000), `${name}: the connection closes`);
      t.deepEqual(await c.read(["GET"], 0), [], `${name}: no answer`);
      t.is(g.backend.received.length - before, 0, `${name}: the backend sees neither request`);
      c.close();
      t.is(await stillAnswers(g.http, undefined, `${name}-alive`), undefined, `${name}: the gateway answers a new connection`);
    }
  });
});
