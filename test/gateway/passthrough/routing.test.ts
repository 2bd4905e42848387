// SNI routing through a real listener: TLS clients must see each backend's own certificate,
// which shows the gateway relayed the session instead of terminating it.
import net from "node:net";
import test from "ava";
import { makeCa, type TestCa } from "../../support/tls-certs.js";
import {
  closer,
  listenOnLoopback,
  opensslProbe,
  type Probe,
  route,
  startGateway,
  startTlsBackend,
  type TlsBackend,
  tlsProbe,
  to,
} from "./harness.js";

let ca: TestCa;
let exact: TlsBackend;
let wild: TlsBackend;
let deepWild: TlsBackend;
let catchAll: TlsBackend;
let other: TlsBackend;

test.before(async () => {
  ca = await makeCa();
  [exact, wild, deepWild, catchAll, other] = await Promise.all([
    startTlsBackend(ca, "exact", ["a.example.com"]),
    startTlsBackend(ca, "wild", ["*.example.com"]),
    startTlsBackend(ca, "deep-wild", ["*.b.example.com"]),
    startTlsBackend(ca, "catch-all", ["catch-all.test"]),
    startTlsBackend(ca, "other", ["b.other.test"]),
  ]);
});

test.after.always(async () => {
  await Promise.all([exact, wild, deepWild, catchAll, other].map((b) => b?.close()));
});

/** The catch-all listed first: precedence must come from the names, not the order. */
const precedenceRoutes = () => [
  route("ns/catch-all", [], to(catchAll)),
  route("ns/wild", ["*.example.com"], to(wild)),
  route("ns/deep-wild", ["*.b.example.com"], to(deepWild)),
  route("ns/exact", ["a.example.com"], to(exact)),
];

const reached = (probe: Probe) => (probe.ok ? probe.banner : `refused: ${probe.error}`);

test("exact beats the longest wildcard beats the catch-all (node:tls)", async (t) => {
  const gateway = await startGateway(precedenceRoutes());
  t.teardown(() => gateway.listener.close(0));
  const cases: Array<[string | undefined, TlsBackend]> = [
    ["a.example.com", exact],
    ["x.example.com", wild],
    ["q.a.example.com", wild],
    ["x.b.example.com", deepWild],
    ["b.example.com", wild],
    ["example.com", catchAll],
    ["unrelated.test", catchAll],
    [undefined, catchAll],
  ];
  for (const [name, backend] of cases) {
    const probe = await tlsProbe(gateway.port, name, ca);
    t.is(reached(probe), backend.label, String(name));
    if (probe.ok) t.is(probe.serial, backend.serial, `certificate seen for ${String(name)}`);
  }
});

test("openssl s_client is shown each backend's own certificate", async (t) => {
  const gateway = await startGateway(precedenceRoutes());
  t.teardown(() => gateway.listener.close(0));
  const cases: Array<[string | undefined, TlsBackend]> = [
    ["a.example.com", exact],
    ["z.example.com", wild],
    ["y.b.example.com", deepWild],
    ["nothing.test", catchAll],
    [undefined, catchAll],
  ];
  for (const [name, backend] of cases) {
    const result = await opensslProbe(gateway.port, name, ca);
    t.is(result.serial, backend.serial, `${String(name)}: ${result.output.slice(0, 400)}`);
    t.true(result.verified, `${String(name)} verifies against the test CA`);
  }
});

test("a server name in any case, with or without a trailing dot, takes its route (node:tls and openssl)", async (t) => {
  const gateway = await startGateway(precedenceRoutes());
  t.teardown(() => gateway.listener.close(0));
  const cases: Array<[string, TlsBackend]> = [
    ["A.EXAMPLE.COM", exact],
    ["a.example.com.", exact],
    ["A.Example.Com.", exact],
    ["X.B.EXAMPLE.COM.", deepWild],
    ["Q.Example.COM", wild],
  ];
  for (const [name, backend] of cases) {
    const probe = await tlsProbe(gateway.port, name, ca);
    t.is(reached(probe), backend.label, name);
    t.is((await opensslProbe(gateway.port, name, ca)).serial, backend.serial, `${name} (openssl)`);
  }
});

test("two hostnames on one port reach two backends", async (t) => {
  const gateway = await startGateway([
    route("ns/a", ["a.example.com"], to(exact)),
    route("ns/b", ["b.other.test"], to(other)),
  ]);
  t.teardown(() => gateway.listener.close(0));
  const names = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? "a.example.com" : "b.other.test"));
  const probes = await Promise.all(names.map((name) => tlsProbe(gateway.port, name, ca)));
  t.deepEqual(probes.map(reached), names.map((n) => (n === "a.example.com" ? "exact" : "other")));
  t.deepEqual(gateway.metrics.connections.sort(), [...Array(5).fill("ns/a"), ...Array(5).fill("ns/b")]);
});

test("without SNI and without a catch-all route the client is refused and counted", async (t) => {
  const gateway = await startGateway([route("ns/a", ["a.example.com"], to(exact))]);
  t.teardown(() => gateway.listener.close(0));
  t.false((await tlsProbe(gateway.port, undefined, ca)).ok);
  const openssl = await opensslProbe(gateway.port, undefined, ca);
  t.is(openssl.serial, undefined);
  await gateway.metrics.waitForError("no-route", 2);
  t.deepEqual(gateway.metrics.errors, [
    { route: "", kind: "no-route" },
    { route: "", kind: "no-route" },
  ]);
});

test("an unknown name is refused with an unrecognized_name alert and counted", async (t) => {
  const gateway = await startGateway([route("ns/a", ["a.example.com"], to(exact))]);
  t.teardown(() => gateway.listener.close(0));
  const probe = await tlsProbe(gateway.port, "nobody.example.com", ca);
  t.false(probe.ok);
  t.regex(probe.ok ? "" : probe.error, /unrecognized name/i);
  const openssl = await opensslProbe(gateway.port, "nobody.example.com", ca);
  t.is(openssl.serial, undefined);
  t.regex(openssl.output, /unrecognized name/i);
  await gateway.metrics.waitForError("no-route", 2);
  t.is(gateway.metrics.connections.length, 0);
  await waitForClosed(() => gateway.metrics.open === 0);
  t.is(gateway.metrics.open, 0);
});

test("a server name that is no DNS name is refused as bad-server-name", async (t) => {
  const gateway = await startGateway([route("ns/catch-all", [], to(catchAll))]);
  t.teardown(() => gateway.listener.close(0));
  const openssl = await opensslProbe(gateway.port, "under_score.example.com", ca);
  t.is(openssl.serial, undefined, "not even the catch-all gets a malformed name");
  await gateway.metrics.waitForError("bad-server-name");
});

test("a ClientHello arriving one byte per TCP segment is still routed", async (t) => {
  const gateway = await startGateway(precedenceRoutes());
  t.teardown(() => gateway.listener.close(0));
  const trickle = await startTrickleProxy(gateway.port);
  t.teardown(trickle.close);
  const probe = await tlsProbe(trickle.port, "x.b.example.com", ca);
  t.is(reached(probe), deepWild.label);
  t.true(trickle.slowWrites() > 100, `hello sent in ${trickle.slowWrites()} writes`);
});

test("metrics count the connection, its bytes both ways, and the open connections", async (t) => {
  const gateway = await startGateway([route("ns/a", ["a.example.com"], to(exact))]);
  t.teardown(() => gateway.listener.close(0));
  t.true((await tlsProbe(gateway.port, "a.example.com", ca)).ok);
  await waitForClosed(() => gateway.metrics.open === 0);
  t.deepEqual(gateway.metrics.connections, ["ns/a"]);
  // At least the hello up and the server's handshake plus greeting down.
  t.true(gateway.metrics.bytesBy.upstream > 200, `${gateway.metrics.bytesBy.upstream} bytes up`);
  t.true(gateway.metrics.bytesBy.downstream > 500, `${gateway.metrics.bytesBy.downstream} bytes down`);
  t.deepEqual(gateway.metrics.errors, []);
});

async function waitForClosed(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
}

/**
 * A TCP proxy in front of the gateway that forwards the client's first bytes (its hello) one
 * byte per write, with delays, so the gateway reads them as separate segments; once the server
 * has answered, bytes flow normally.
 */
async function startTrickleProxy(target: number) {
  let slow = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    upstream.setNoDelay(true);
    let answered = false;
    let queue = Promise.resolve();
    client.on("data", (chunk: Buffer) => {
      queue = queue.then(async () => {
        if (answered) return void upstream.write(chunk);
        for (const byte of chunk) {
          upstream.write(Buffer.from([byte]));
          slow++;
          await new Promise((r) => setTimeout(r, 1));
        }
      });
    });
    upstream.on("data", (chunk: Buffer) => {
      answered = true;
      client.write(chunk);
    });
    client.on("end", () => void queue.then(() => upstream.end()));
    upstream.on("end", () => client.end());
    for (const socket of [client, upstream]) socket.on("error", () => (client.destroy(), upstream.destroy()));
  });
  const port = await listenOnLoopback(server);
  return { port, slowWrites: () => slow, close: closer(server) };
}
