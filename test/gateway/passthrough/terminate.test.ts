// The SNI front terminating TLS (TLSRoute behind a listener in tls.mode Terminate), driven in
// process with real sockets: every way a client can fail the handshake ends in a closed
// connection and one counted error of a kind an operator can read, and the listener goes on
// serving the next client.
import test from "ava";
import net from "node:net";
import tls from "node:tls";
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TerminateContexts } from "../../../gateway/passthrough/terminate-contexts.js";
import type { PassthroughRoute } from "../../../gateway/passthrough/routes.js";
import { freePort } from "../../support/net.js";
import { makeCa, type TestCa } from "../../support/tls-certs.js";
import { startPlainBackend, terminateProbe } from "../../support/tls-terminate.js";
import { closedAfter, listenOnLoopback, startGateway } from "./harness.js";

const contexts = new TerminateContexts();

async function terminating(ca: TestCa, name: string, backendPort: number, policy?: { minVersion: "1.2" | "1.3"; ciphers: string[] }): Promise<PassthroughRoute> {
  const leaf = await ca.issue([name], { commonName: `gateway ${name}` });
  const built = contexts.get({ certPem: leaf.chainPem, keyPem: leaf.keyPem }, policy);
  if (!built.ok) throw new Error(built.message);
  return { name: `default/${name}`, hostnames: [name], backends: [{ address: "127.0.0.1", port: backendPort, weight: 1 }], terminate: built.context };
}

/** The bytes of a real ClientHello for `servername`, as node:tls sends it. */
async function clientHello(servername: string): Promise<Buffer> {
  const server = net.createServer();
  const port = await listenOnLoopback(server);
  const hello = new Promise<Buffer>((resolve) => server.once("connection", (s) => s.once("data", (d: Buffer) => { resolve(d); s.destroy(); })));
  const client = tls.connect({ host: "127.0.0.1", port, servername });
  client.on("error", () => undefined);
  const bytes = await hello;
  server.close();
  return bytes;
}

test("handshake failures are closed and counted by kind; the listener keeps serving", async (t) => {
  const ca = await makeCa();
  const backend = await startPlainBackend("plain");
  const closedPort = await freePort(); // nothing listens there
  const routes = [
    await terminating(ca, "ok.test", backend.port),
    await terminating(ca, "strict.test", backend.port, { minVersion: "1.3", ciphers: [] }),
    await terminating(ca, "suites.test", backend.port, { minVersion: "1.2", ciphers: ["[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-RSA-AES128-GCM-SHA256]"] }),
    await terminating(ca, "down.test", closedPort),
  ];
  const gw = await startGateway(routes, { helloTimeoutMs: 300 });
  const { port, metrics } = gw;
  try {
    // Garbage after a real hello: the TLS layer cannot read it.
    const hello = await clientHello("ok.test");
    const garbage = await closedAfter(port, Buffer.concat([hello, Buffer.alloc(64, 0x41)]));
    t.true(garbage.ms < 3000);
    await metrics.waitForError("handshake-malformed");

    // A hello and then silence: bounded by the hello timeout.
    const silent = await closedAfter(port, hello);
    t.true(silent.ms >= 250 && silent.ms < 3000, `closed after ${silent.ms} ms`);
    await metrics.waitForError("handshake-timeout");

    // No common version, no common suite.
    t.false((await terminateProbe(port, "strict.test", ca, { maxVersion: "TLSv1.2" })).ok);
    await metrics.waitForError("handshake-version");
    const suites = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: "127.0.0.1", port, servername: "suites.test", ca: ca.certPem, maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES256-GCM-SHA384" });
      s.on("secureConnect", () => resolve("connected"));
      s.on("error", (e) => resolve(e.message));
    });
    t.regex(suites, /handshake failure/i);
    await metrics.waitForError("handshake-cipher");
    const suiteOk = await terminateProbe(port, "suites.test", ca, { maxVersion: "TLSv1.2" });
    t.true(suiteOk.ok, "a client with the policy's suite gets through");

    // A client that does not trust the certificate says so with an alert.
    const otherCa = await makeCa("someone else");
    const alerted = await opensslRejecting(port, "ok.test", otherCa);
    t.regex(alerted, /verify error|certificate verify failed/);
    await metrics.waitForError("handshake-client-alert");

    // The handshake succeeds, the backend refuses: the client's connection is closed.
    const down = await terminateProbe(port, "down.test", ca);
    t.true(!down.ok || (down.banner === "" && down.echo === ""), `closed without an answer: ${JSON.stringify(down)}`);
    await metrics.waitForError("connect-failure");

    const fine = await terminateProbe(port, "ok.test", ca);
    t.true(fine.ok && fine.subject === "gateway ok.test" && fine.echo === "ping ok.test", JSON.stringify(fine));
    t.log(metrics.errors.map((e) => `${e.route} ${e.kind}`).join("\n"));
    t.deepEqual(
      metrics.errors.map((e) => e.kind).sort(),
      ["connect-failure", "handshake-cipher", "handshake-client-alert", "handshake-malformed", "handshake-timeout", "handshake-version"],
      "each failure is counted once, by its kind",
    );
    await waitForZero(() => metrics.open);
    t.is(metrics.open, 0, "no connection is left open");
  } finally {
    await gw.listener.close(0);
    await backend.close();
  }
});

test("a Terminate route whose context cannot be built (a suite list OpenSSL has none of) is said when built, not when a client comes", async (t) => {
  const ca = await makeCa();
  const leaf = await ca.issue(["x.test"]);
  const built = new TerminateContexts().get({ certPem: leaf.chainPem, keyPem: leaf.keyPem }, { minVersion: "1.2", ciphers: ["DES-CBC3-SHA"] });
  t.false(built.ok);
  if (!built.ok) t.regex(built.message, /cannot build a TLS context: .*no cipher match/);
});

async function waitForZero(count: () => number): Promise<void> {
  for (let i = 0; i < 100 && count() !== 0; i++) await new Promise((r) => setTimeout(r, 20));
}

/** openssl s_client that refuses a certificate it cannot verify (sending an alert); its output. */
async function opensslRejecting(port: number, servername: string, ca: TestCa): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "meshgate-terminate-"));
  const caFile = join(dir, "ca.pem");
  await writeFile(caFile, ca.certPem);
  const child = spawn(
    "openssl",
    ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", servername, "-CAfile", caFile, "-verify_return_error"],
    { stdio: ["pipe", "pipe", "pipe"], timeout: 10_000 },
  );
  child.stdin.end();
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  await new Promise((resolve) => child.once("close", resolve));
  return output;
}
