// The attacks an edge proxy is judged by, each as it was found, against a recording backend:
// what bytes reach the backend, what reaches the client, and that the gateway still answers.
import test from "ava";
import { trustedClient } from "../../gateway/http/request-checks.js";
import type { PortInput } from "../../gateway/snapshot.js";
import {
  headerBytes,
  RawConnection,
  rawExchange,
  type RecordingBackend,
  responseHeader,
  withRecordingGateway,
} from "../support/raw-http.js";

const withGateway = (
  run: (port: number, backend: RecordingBackend) => Promise<void>,
  client?: PortInput["client"],
): Promise<void> => withRecordingGateway({ routes: [{ hostnames: ["shop.test"], backends: [{ cluster: "c" }] }], client }, run);

const bin = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p))));
const CR_LIKE = [0xc4, 0x8d]; // U+010D, whose low byte is CR
const LF_LIKE = [0xc4, 0x8a]; // U+010A, whose low byte is LF

/** The gateway still serves a plain request on a new connection. */
async function stillAnswers(port: number): Promise<number | undefined> {
  const r = await rawExchange(port, [bin("GET /alive HTTP/1.1\r\nHost: shop.test\r\n\r\n")], ["GET"]);
  return r.responses[0]?.status;
}

test("a header value whose code points end in CR LF reaches the backend as its own bytes, in one request", async (t) => {
  await withGateway(async (port, backend) => {
    const value = bin("a", CR_LIKE, LF_LIKE, "GET /admin/smuggled HTTP/1.1", CR_LIKE, LF_LIKE, "Host: x", CR_LIKE, LF_LIKE, CR_LIKE, LF_LIKE, "z");
    const r = await rawExchange(port, [bin("GET /public HTTP/1.1\r\nHost: shop.test\r\nX-A: ", [...value], "\r\n\r\n")], ["GET"]);
    t.is(r.responses[0]?.status, 200);
    t.is(backend.received.length, 1);
    t.deepEqual(headerBytes(backend.received[0]!, "x-a"), value);
    t.false(backend.received.some((q) => q.target.toString().includes("smuggled")));
  });
});

test("code points whose low bytes are dot and slash stay what they are in the path: forwarded percent-encoded", async (t) => {
  await withGateway(async (port, backend) => {
    // U+012E is "Į", low byte "."; U+012F is "į", low byte "/".
    const r = await rawExchange(port, [bin("GET /x/", [0xc4, 0xae, 0xc4, 0xae], "/admin HTTP/1.1\r\nHost: shop.test\r\n\r\n")], ["GET"]);
    t.is(r.responses[0]?.status, 200);
    t.is(backend.received[0]?.target.toString("latin1"), "/x/%C4%AE%C4%AE/admin");
  });
});

test("Connection cannot remove Host or the body's framing; the headers it names are removed", async (t) => {
  await withGateway(async (port, backend) => {
    const r = await rawExchange(
      port,
      [bin("POST /upload HTTP/1.1\r\nHost: shop.test\r\nConnection: host, content-length, x-private\r\nX-Private: 1\r\nContent-Length: 5\r\n\r\nhello")],
      ["POST"],
    );
    t.is(r.responses[0]?.status, 200);
    const seen = backend.received[0]!;
    t.is(headerBytes(seen, "host")?.toString(), "shop.test");
    t.is(headerBytes(seen, "content-length")?.toString(), "5");
    t.is(seen.body.toString(), "hello");
    t.is(headerBytes(seen, "x-private"), undefined);
  });
});

test("non-ASCII bytes in header values pass unchanged both ways; upstream headers named constructor or listed in Connection", async (t) => {
  await withGateway(async (port, backend) => {
    backend.answer = (req) => {
      // Written raw: Node would encode a header string as UTF-8.
      req.socket.end(
        bin(
          "HTTP/1.1 200 OK\r\nX-Latin: caf",
          [0xe9],
          "\r\nConstructor: evil\r\n__proto__: x\r\nX-Hop: secret\r\nConnection: keep-alive, x-hop\r\nContent-Length: 2\r\n\r\nok",
        ),
      );
    };
    const r = await rawExchange(port, [bin("GET / HTTP/1.1\r\nHost: shop.test\r\nX-Utf: caf", [0xc3, 0xa9], "!\r\n\r\n")], ["GET"]);
    const answer = r.responses[0]!;
    t.is(answer.status, 200);
    t.deepEqual(headerBytes(backend.received[0]!, "x-utf"), bin("caf", [0xc3, 0xa9], "!"));
    t.deepEqual(responseHeader(answer, "x-latin"), bin("caf", [0xe9]));
    t.is(responseHeader(answer, "constructor")?.toString(), "evil");
    t.is(responseHeader(answer, "__proto__")?.toString(), "x");
    t.is(responseHeader(answer, "x-hop"), undefined);
    t.is(answer.body.toString(), "ok");
  });
});

test("client X-Forwarded-* are replaced without trusted hops and kept with them; a forwarded-for entry that is no IP is not the client", async (t) => {
  const request = bin(
    "GET / HTTP/1.1\r\nHost: shop.test\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Host: admin.internal\r\nX-Forwarded-Proto: https\r\n\r\n",
  );
  await withGateway(async (port, backend) => {
    await rawExchange(port, [request], ["GET"]);
    const seen = backend.received[0]!;
    t.is(headerBytes(seen, "x-forwarded-for")?.toString(), "127.0.0.1");
    t.is(headerBytes(seen, "x-forwarded-host")?.toString(), "shop.test");
    t.is(headerBytes(seen, "x-forwarded-proto")?.toString(), "http");
  });
  await withGateway(
    async (port, backend) => {
      await rawExchange(port, [request], ["GET"]);
      const seen = backend.received[0]!;
      t.is(headerBytes(seen, "x-forwarded-for")?.toString(), "203.0.113.9, 127.0.0.1");
      t.is(headerBytes(seen, "x-forwarded-host")?.toString(), "admin.internal");
      t.is(headerBytes(seen, "x-forwarded-proto")?.toString(), "https");
    },
    { trustedHops: 1 },
  );
  for (const entry of ["203.0.113.5:4711", "[2001:db8::1]", "unknown", "", "1.2.3", "::g"]) {
    t.is(trustedClient(`${entry}, 10.0.0.1`, 2), undefined, entry);
  }
  t.is(trustedClient("203.0.113.5, 10.0.0.1", 2), "203.0.113.5");
  t.is(trustedClient(" 2001:db8::1 , 10.0.0.1", 2), "2001:db8::1");
});

test("Host is matched without case or a trailing dot; a Host that is no host name gets 400", async (t) => {
  await withGateway(async (port, backend) => {
    for (const host of ["shop.test.", "SHOP.Test", "shop.test.:8080"]) {
      const r = await rawExchange(port, [bin(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`)], ["GET"]);
      t.is(r.responses[0]?.status, 200, host);
    }
    for (const host of ["shop.test/x", "a@shop.test", "shop test", "[::1"]) {
      const r = await rawExchange(port, [bin(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`)], ["GET"]);
      t.is(r.responses[0]?.status, 400, host);
    }
    t.is(backend.received.length, 3);
  });
});

test("HEAD: a local answer has the GET's Content-Length and no body, the connection goes on, the process lives", async (t) => {
  await withGateway(async (port) => {
    const conn = new RawConnection(port);
    const get = await conn.send([bin("GET /x HTTP/1.1\r\nHost: nowhere.test\r\n\r\n")], ["GET"]);
    const [head, next] = await conn.send(
      [bin("HEAD /x HTTP/1.1\r\nHost: nowhere.test\r\n\r\n"), bin("GET /next HTTP/1.1\r\nHost: shop.test\r\n\r\n")],
      ["HEAD", "GET"],
      20,
    );
    conn.close();
    t.is(get[0]?.status, 404);
    t.is(head?.status, 404);
    t.is(responseHeader(head!, "content-length")?.toString(), String(get[0]?.body.length));
    t.is(head?.body.length, 0);
    // Had the HEAD answer carried a body, it would be read here as the start of this answer.
    t.is(next?.status, 200);
    t.is(await stillAnswers(port), 200);
  });
});

test("HEAD proxied carries the upstream's Content-Length; 204 carries none; 304 keeps the upstream's", async (t) => {
  await withGateway(async (port, backend) => {
    backend.answer = (req, res) => {
      if (req.url === "/nothing") res.writeHead(204).end();
      else if (req.url === "/same") res.writeHead(304, { "content-length": "42", etag: '"v1"' }).end();
      else res.writeHead(200, { "content-length": "11" }).end(req.method === "HEAD" ? undefined : "hello world");
    };
    // One connection, each request after the answer before it: a body after a bodyless answer
    // would be read as the start of the next one.
    const conn = new RawConnection(port);
    const answers = [];
    for (const [method, path] of [["HEAD", "/doc"], ["GET", "/nothing"], ["DELETE", "/nothing"], ["GET", "/same"], ["GET", "/doc"]] as const) {
      answers.push(...(await conn.send([bin(`${method} ${path} HTTP/1.1\r\nHost: shop.test\r\n\r\n`)], [method])));
    }
    conn.close();
    t.deepEqual(
      answers.map((a) => [a.status, responseHeader(a, "content-length")?.toString(), a.body.toString()]),
      [
        [200, "11", ""],
        [204, undefined, ""],
        [204, undefined, ""],
        [304, "42", ""],
        [200, "11", "hello world"],
      ],
    );
  });
});

test("with http1.pipelining, a request written while the one before it is at the backend waits for its turn and is answered in order", async (t) => {
  await withGateway(async (port, backend) => {
    backend.answer = (req, res) => setTimeout(() => res.writeHead(200, { "content-length": String(req.url?.length) }).end(req.url), req.url === "/slow" ? 200 : 0);
    const conn = new RawConnection(port);
    conn.write(bin("GET /slow HTTP/1.1\r\nHost: shop.test\r\n\r\n"));
    while (backend.received.length === 0) await new Promise((r) => setTimeout(r, 5));
    conn.write(bin("GET /fast HTTP/1.1\r\nHost: shop.test\r\n\r\n"));
    const answers = await conn.read(["GET", "GET"]);
    conn.close();
    t.deepEqual(
      answers.map((a) => a.body.toString()),
      ["/slow", "/fast"],
    );
  }, { pipelining: true });
});

test("without http1.pipelining, a request written while one is pending closes the connection (uWS 20.30): no answer is anyone else's", async (t) => {
  await withGateway(async (port, backend) => {
    backend.answer = (req, res) => setTimeout(() => res.writeHead(200, { "content-length": String(req.url?.length) }).end(req.url), 200);
    const conn = new RawConnection(port);
    conn.write(bin("GET /slow HTTP/1.1\r\nHost: shop.test\r\n\r\n"));
    while (backend.received.length === 0) await new Promise((r) => setTimeout(r, 5));
    conn.write(bin("GET /fast HTTP/1.1\r\nHost: shop.test\r\n\r\n"));
    const answers = await conn.read(["GET", "GET"], 1500);
    t.deepEqual(answers, []);
    t.true(conn.closed);
    // The first request had reached the backend (RFC 9112 9.3.2: a client pipelines only what it
    // can retry); the second never did.
    t.deepEqual(
      backend.received.map((r) => r.target.toString()),
      ["/slow"],
    );
    t.is(await stillAnswers(port), 200);
  });
});

test("uWS 20.30 limits, as documented: requests pipelined in one write, extension methods and HTTP/1.0 get no answer and reach nothing", async (t) => {
  await withGateway(async (port, backend) => {
    const oneWrite = await rawExchange(
      port,
      [bin("GET /first HTTP/1.1\r\nHost: shop.test\r\n\r\nGET /second HTTP/1.1\r\nHost: shop.test\r\n\r\n")],
      ["GET", "GET"],
    );
    t.true(oneWrite.closed);
    t.is(oneWrite.responses.length, 0);
    for (const method of ["PURGE", "PROPFIND", "MKCOL", "QUERY", "get"]) {
      const r = await rawExchange(port, [bin(`${method} /x HTTP/1.1\r\nHost: shop.test\r\n\r\n`)], ["GET"], { timeoutMs: 1000 });
      t.is(r.responses.length, 0, method);
      t.true(r.closed, method);
    }
    const connect = await rawExchange(port, [bin("CONNECT /x HTTP/1.1\r\nHost: shop.test\r\n\r\n")], ["CONNECT"]);
    t.is(connect.responses[0]?.status, 405);
    t.is(backend.received.length, 0);
    t.is(await stillAnswers(port), 200);
  });
});
