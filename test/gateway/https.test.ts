// TLS termination on the real uWebSockets.js SSLApp: the certificate chosen by SNI, the fallback
// for clients without SNI or with an unknown name, rotation without a restart, TLS 1.2+ only.
import { type PeerCertificate, type TLSSocket, connect as tlsConnect } from "node:tls";
import test from "ava";
import { DataPlane } from "../../gateway/data-plane.js";
import type { PortInput } from "../../gateway/snapshot.js";
import { startBackend, type TestBackend } from "../support/backend.js";
import { request } from "../support/https-port.js";
import { freePort } from "../support/net.js";
import { cluster, simplePort, snapshot } from "../support/snapshot.js";
import { makeCa, type TestCa, type TestLeaf } from "../support/tls-certs.js";

interface Certs {
  ca: TestCa;
  a: TestLeaf;
  wild: TestLeaf;
  fallback: TestLeaf;
}

async function makeCerts(): Promise<Certs> {
  const ca = await makeCa();
  return {
    ca,
    a: await ca.issue(["a.example.com"]),
    wild: await ca.issue(["*.w.example.com"]),
    fallback: await ca.issue(["fallback.example.com"]),
  };
}

/** A listener per named certificate (as translation makes them), and one without a hostname. */
function httpsPort(port: number, certs: Record<string, TestLeaf>, fallback: string | undefined): PortInput {
  const names = Object.keys(certs);
  const plain = simplePort(port, [{ backends: [{ cluster: "c" }] }]);
  const catchAll = plain.listeners[0]!;
  const named = names.filter((n) => n.includes(".")).map((n) => ({ ...catchAll, name: `default/gw/${n}`, hostname: n }));
  return {
    ...plain,
    listeners: [...named, catchAll],
    protocol: "HTTPS",
    tls: {
      certificates: names.map((n) => ({ name: `default/${n}`, certPem: certs[n]!.chainPem, keyPem: certs[n]!.keyPem })),
      serverNames: names.filter((n) => n.includes(".")).map((n) => ({ hostname: n, certificate: `default/${n}` })),
      ...(fallback === undefined ? {} : { fallback: `default/${fallback}` }),
    },
  };
}

/** Opens a TLS connection; resolves with the socket once the handshake is done. */
function open(port: number, ca: string, servername: string | undefined, extra: object = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: "127.0.0.1", port, ca, ...(servername === undefined ? {} : { servername }), ...extra });
    socket.once("secureConnect", () => resolve(socket));
    socket.once("error", reject);
    socket.once("close", () => reject(new Error("closed during the handshake")));
  });
}

const subjectOf = (c: PeerCertificate) => c.subject.CN;

/** One keep-alive GET on an open socket; resolves with the status line and body. */
const get = (socket: TLSSocket, host: string) => request(socket, host);

async function withHttps(
  fallback: string | undefined,
  run: (ctx: { port: number; plane: DataPlane; certs: Certs; backend: TestBackend }) => Promise<void>,
): Promise<void> {
  const certs = await makeCerts();
  const backend = await startBackend("b");
  const port = await freePort();
  const plane = new DataPlane();
  try {
    const result = await plane.apply(
      snapshot({
        version: 1,
        ports: [httpsPort(port, { "a.example.com": certs.a, "*.w.example.com": certs.wild, fb: certs.fallback }, fallback)],
        clusters: [cluster("c", [backend.port])],
      }),
    );
    if (result.portErrors.length > 0) throw new Error(JSON.stringify(result.portErrors));
    await run({ port, plane, certs, backend });
  } finally {
    await plane.drain(500);
    await backend.close();
  }
}

test("the certificate follows SNI: exact and wildcard names, the fallback for others and for no SNI", async (t) => {
  await withHttps("fb", async ({ port, certs, backend }) => {
    const ca = certs.ca.certPem;
    const cases: [string | undefined, string][] = [
      ["a.example.com", "a.example.com"],
      ["x.w.example.com", "*.w.example.com"],
      ["deep.x.w.example.com", "fallback.example.com"],
      ["other.example.com", "fallback.example.com"],
      [undefined, "fallback.example.com"],
    ];
    for (const [sni, expected] of cases) {
      const socket = await open(port, ca, sni, { checkServerIdentity: () => undefined });
      t.is(subjectOf(socket.getPeerCertificate()), expected, `SNI ${sni ?? "(none)"}`);
      t.true(socket.authorized, "chain verifies against the test CA");
      if (sni === "a.example.com") {
        const res = await get(socket, "a.example.com");
        t.is(res.status, "HTTP/1.1 200 OK");
        t.is(backend.received.at(-1)?.headers["x-forwarded-proto"], "https");
      }
      socket.destroy();
    }
  });
});

test("without a fallback certificate an unknown name or no SNI fails the handshake", async (t) => {
  await withHttps(undefined, async ({ port, certs }) => {
    const ca = certs.ca.certPem;
    await t.throwsAsync(open(port, ca, "other.example.com"));
    await t.throwsAsync(open(port, ca, undefined, { checkServerIdentity: () => undefined }));
    const ok = await open(port, ca, "a.example.com");
    t.is(subjectOf(ok.getPeerCertificate()), "a.example.com");
    ok.destroy();
  });
});

test("TLS 1.1 is refused; 1.2 and 1.3 are served", async (t) => {
  await withHttps("fb", async ({ port, certs }) => {
    const ca = certs.ca.certPem;
    await t.throwsAsync(open(port, ca, "a.example.com", { minVersion: "TLSv1.1", maxVersion: "TLSv1.1" }));
    for (const v of ["TLSv1.2", "TLSv1.3"] as const) {
      const s = await open(port, ca, "a.example.com", { minVersion: v, maxVersion: v });
      t.is(s.getProtocol(), v);
      s.destroy();
    }
  });
});

test("a rotated certificate reaches new connections while an established one keeps working", async (t) => {
  await withHttps("fb", async ({ port, plane, certs, backend }) => {
    const ca = certs.ca.certPem;
    const before = await open(port, ca, "a.example.com");
    const first = before.getPeerCertificate().serialNumber;
    t.is((await get(before, "a.example.com")).status, "HTTP/1.1 200 OK");
    const renewedA = await certs.ca.issue(["a.example.com"]);
    const newFallback = await certs.ca.issue(["fallback2.example.com"]);
    // A new named certificate is swapped in place; a new fallback needs a new app on the port.
    await plane.apply(
      snapshot({
        version: 2,
        ports: [httpsPort(port, { "a.example.com": renewedA, "*.w.example.com": certs.wild, fb2: newFallback }, "fb2")],
        clusters: [cluster("c", [backend.port])],
      }),
    );
    const after = await open(port, ca, "a.example.com");
    t.not(after.getPeerCertificate().serialNumber, first);
    t.is(after.getPeerCertificate().serialNumber, (await open(port, ca, "a.example.com")).getPeerCertificate().serialNumber);
    const other = await open(port, ca, "other.example.com", { checkServerIdentity: () => undefined });
    t.is(subjectOf(other.getPeerCertificate()), "fallback2.example.com");
    // The connection made before both changes still gets answers.
    t.is((await get(before, "a.example.com")).status, "HTTP/1.1 200 OK");
    t.is((await get(after, "a.example.com")).status, "HTTP/1.1 200 OK");
    for (const s of [before, after, other]) s.destroy();
  });
});

test("a named certificate rotated, then its listener removed, while connections that chose it stay open: the process lives, they are answered", async (t) => {
  // uWS 20.30 frees a server name's router on removeServerName while connections that chose the
  // name stay open, and the next request on one of them crashed the process (SIGSEGV). Changed
  // or removed names now get the port a new app; the old one keeps its names and connections.
  await withHttps("fb", async ({ port, plane, certs, backend }) => {
    const ca = certs.ca.certPem;
    const first = await open(port, ca, "a.example.com");
    const wild = await open(port, ca, "x.w.example.com");
    t.is((await get(first, "a.example.com")).status, "HTTP/1.1 200 OK");
    t.is((await get(wild, "x.w.example.com")).status, "HTTP/1.1 200 OK");
    const renewedA = await certs.ca.issue(["a.example.com"]);
    await plane.apply(
      snapshot({
        version: 2,
        ports: [httpsPort(port, { "a.example.com": renewedA, "*.w.example.com": certs.wild, fb: certs.fallback }, "fb")],
        clusters: [cluster("c", [backend.port])],
      }),
    );
    const second = await open(port, ca, "a.example.com");
    t.not(second.getPeerCertificate().serialNumber, first.getPeerCertificate().serialNumber);
    await plane.apply(
      snapshot({ version: 3, ports: [httpsPort(port, { "a.example.com": renewedA, fb: certs.fallback }, "fb")], clusters: [cluster("c", [backend.port])] }),
    );
    const wildNow = await open(port, ca, "x.w.example.com", { checkServerIdentity: () => undefined });
    t.is(subjectOf(wildNow.getPeerCertificate()), "fallback.example.com");
    // Every connection made before the changes is still answered, and the process is alive; the
    // one whose listener is gone is told to connect again (421), which now gets the fallback.
    t.is((await get(first, "a.example.com")).status, "HTTP/1.1 200 OK");
    t.is((await get(wild, "x.w.example.com")).status, "HTTP/1.1 421 Misdirected Request");
    t.is((await get(second, "a.example.com")).status, "HTTP/1.1 200 OK");
    t.is((await get(wildNow, "x.w.example.com")).status, "HTTP/1.1 200 OK");
    for (const s of [first, wild, second, wildNow]) s.destroy();
  });
});
