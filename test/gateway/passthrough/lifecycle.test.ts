// The listener over time: idle connections are closed, route changes affect only new
// connections, close() stops accepting and drains, and a taken port is reported clearly.
import net from "node:net";
import tls from "node:tls";
import test from "ava";
import { PassthroughListener } from "../../../gateway/passthrough/listener.js";
import { PassthroughTable } from "../../../gateway/passthrough/routes.js";
import { makeCa, type TestCa } from "../../support/tls-certs.js";
import { RecordedMetrics, route, startGateway, startTlsBackend, type TlsBackend, tlsProbe, to } from "./harness.js";

let ca: TestCa;
let blue: TlsBackend;
let green: TlsBackend;

test.before(async () => {
  ca = await makeCa();
  [blue, green] = await Promise.all([
    startTlsBackend(ca, "blue", ["app.example.com"]),
    startTlsBackend(ca, "green", ["app.example.com"]),
  ]);
});

test.after.always(() => Promise.all([blue, green].map((b) => b?.close())));

/** A TLS session through the gateway that stays open, and echoes lines on demand. */
async function openSession(port: number, servername: string) {
  const socket = tls.connect({ host: "127.0.0.1", port, servername, ca: ca.certPem });
  socket.on("error", () => undefined);
  let received = "";
  let closed = false;
  socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
  socket.on("close", () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("close", () => reject(new Error("closed before the handshake")));
  });
  const until = async (check: () => boolean, ms = 3000) => {
    for (const deadline = Date.now() + ms; !check() && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    return check();
  };
  await until(() => received.includes("\n"));
  const banner = received.split("\n")[0];
  return {
    banner,
    socket,
    isClosed: () => closed,
    /** Whether a line written now comes back. */
    echoes: async (line: string) => {
      if (closed) return false;
      socket.write(`${line}\n`);
      return until(() => received.includes(`${line}\n`));
    },
    untilClosed: (ms: number) => until(() => closed, ms),
  };
}

test("an idle piped connection is closed, a busy one is not", async (t) => {
  const gateway = await startGateway([route("ns/app", [], to(blue))], { idleTimeoutMs: 300 });
  t.teardown(() => gateway.listener.close(0));
  const [idle, busy] = await Promise.all([openSession(gateway.port, "app.example.com"), openSession(gateway.port, "app.example.com")]);
  t.teardown(() => busy.socket.destroy());
  // Traffic every 100 ms keeps `busy` alive for well past the idle timeout.
  for (let i = 0; i < 8; i++) {
    t.true(await busy.echoes(`tick ${i}`), `echo ${i}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  t.true(idle.isClosed(), "the idle session was closed");
  t.false(busy.isClosed());
  await gateway.metrics.waitForError("idle-timeout");
  t.deepEqual(gateway.metrics.errors, [{ route: "ns/app", kind: "idle-timeout" }]);
});

test("setRoutes sends new connections to the new backend while an open one keeps its own", async (t) => {
  const gateway = await startGateway([route("ns/app", ["app.example.com"], to(blue))]);
  t.teardown(() => gateway.listener.close(0));
  const before = await openSession(gateway.port, "app.example.com");
  t.teardown(() => before.socket.destroy());
  t.is(before.banner, "blue");

  gateway.listener.setRoutes(new PassthroughTable([route("ns/app", ["app.example.com"], to(green))]));
  const after = await tlsProbe(gateway.port, "app.example.com", ca);
  t.true(after.ok && after.banner === "green" && after.serial === green.serial);
  t.true(await before.echoes("still blue"), "the established session still works");

  gateway.listener.setRoutes(new PassthroughTable([]));
  t.false((await tlsProbe(gateway.port, "app.example.com", ca)).ok, "an empty table refuses");
  t.true(await before.echoes("and still"), "even with no route for it any more");
});

test("close() stops accepting at once and cuts open connections after the drain time", async (t) => {
  const gateway = await startGateway([route("ns/app", [], to(blue))]);
  const open = await openSession(gateway.port, "app.example.com");
  const started = Date.now();
  const closing = gateway.listener.close(400);

  const refused = await new Promise<string>((resolve) => {
    const socket = net.connect(gateway.port, "127.0.0.1", () => resolve("accepted"));
    socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
  t.is(refused, "ECONNREFUSED");
  t.true(await open.echoes("during drain"), "open connections keep working while draining");

  await closing;
  const took = Date.now() - started;
  t.true(took >= 350 && took < 3000, `close took ${took} ms`);
  t.true(await open.untilClosed(2000), "the open connection was cut");
  t.is(gateway.metrics.open, 0);
  t.deepEqual(gateway.metrics.errors, [], "a drain is no error");
});

test("close() returns at once when nothing is open", async (t) => {
  const gateway = await startGateway([]);
  const started = Date.now();
  await gateway.listener.close(5000);
  t.true(Date.now() - started < 1000);
});

test("listen() rejects with the address when the port is taken", async (t) => {
  const gateway = await startGateway([]);
  t.teardown(() => gateway.listener.close(0));
  const second = new PassthroughListener({ address: "127.0.0.1", port: gateway.port, metrics: new RecordedMetrics() });
  const error = await t.throwsAsync(second.listen());
  t.regex(error?.message ?? "", new RegExp(`cannot listen on 127\\.0\\.0\\.1:${gateway.port}: .*EADDRINUSE`));
});
