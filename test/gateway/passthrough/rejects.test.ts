// Connections that must not reach a backend, or lose it: each is closed, counted, and leaves
// the listener serving.
import net from "node:net";
import test from "ava";
import { freePort, waitFor } from "../../support/net.js";
import { makeCa, type TestCa } from "../../support/tls-certs.js";
import { captureClientHello } from "../tls/hello-fixtures.js";
import {
  closedAfter,
  closer,
  listenOnLoopback,
  route,
  startGateway,
  startTlsBackend,
  type TlsBackend,
  tlsProbe,
  to,
} from "./harness.js";

let ca: TestCa;
let backend: TlsBackend;

test.before(async () => {
  ca = await makeCa();
  backend = await startTlsBackend(ca, "backend", ["a.example.com"]);
});

test.after.always(() => backend?.close());

const catchAllGateway = (options = {}) => startGateway([route("ns/all", [], to(backend))], options);

test("garbage bytes are closed and counted as not-tls", async (t) => {
  const gateway = await catchAllGateway();
  t.teardown(() => gateway.listener.close(0));
  const closed = await closedAfter(gateway.port, Buffer.from([0x00, 0xff, 0x13, 0x37, 0x42, 0x99, 0x01]));
  t.is(closed.received.length, 0, "nothing is sent back to a client that is not speaking TLS");
  await gateway.metrics.waitForError("not-tls");
  t.true((await tlsProbe(gateway.port, "a.example.com", ca)).ok, "the listener still serves");
});

test("a plain HTTP request is closed and counted as not-tls", async (t) => {
  const gateway = await catchAllGateway();
  t.teardown(() => gateway.listener.close(0));
  await closedAfter(gateway.port, Buffer.from("GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n"));
  await gateway.metrics.waitForError("not-tls");
  t.deepEqual(gateway.metrics.connections, []);
});

test("a client that sends nothing is closed after the hello timeout", async (t) => {
  const gateway = await catchAllGateway({ helloTimeoutMs: 300 });
  t.teardown(() => gateway.listener.close(0));
  const closed = await closedAfter(gateway.port);
  t.true(closed.ms >= 250 && closed.ms < 2000, `closed after ${closed.ms} ms`);
  await gateway.metrics.waitForError("hello-timeout");
});

test("a client that stops in the middle of its hello is closed after the hello timeout", async (t) => {
  const gateway = await catchAllGateway({ helloTimeoutMs: 300 });
  t.teardown(() => gateway.listener.close(0));
  const hello = await captureClientHello({ servername: "a.example.com" });
  const closed = await closedAfter(gateway.port, hello.subarray(0, hello.length - 10));
  t.true(closed.ms >= 250 && closed.ms < 2000, `closed after ${closed.ms} ms`);
  await gateway.metrics.waitForError("hello-timeout");
  t.deepEqual(gateway.metrics.connections, []);
});

test("a PROXY-protocol port whose client sends no header in time counts a PROXY timeout, not a hello timeout", async (t) => {
  const gateway = await catchAllGateway({ helloTimeoutMs: 300 });
  t.teardown(() => gateway.listener.close(0));
  gateway.listener.setMode({ proxyProtocol: true, raw: false });
  const closed = await closedAfter(gateway.port, Buffer.from("PROXY TCP4 203.0.113.7"));
  t.true(closed.ms >= 250 && closed.ms < 2000, `closed after ${closed.ms} ms`);
  await waitFor(() => gateway.metrics.proxyRejections.length > 0, 2000);
  t.deepEqual(gateway.metrics.proxyRejections, ["timeout"]);
  t.deepEqual(gateway.metrics.errors, []);
  // Once the header is in, the same deadline is the hello's again.
  const late = await closedAfter(gateway.port, Buffer.from("PROXY TCP4 203.0.113.7 10.0.0.1 5555 443\r\n"));
  t.true(late.ms >= 250, `closed after ${late.ms} ms`);
  await gateway.metrics.waitForError("hello-timeout");
  t.deepEqual(gateway.metrics.proxyRejections, ["timeout"]);
});

test("a backend that is down closes the client and counts connect-failure", async (t) => {
  const gateway = await startGateway([route("ns/down", ["a.example.com"], { address: "127.0.0.1", port: await freePort(), weight: 1 })]);
  t.teardown(() => gateway.listener.close(0));
  const probe = await tlsProbe(gateway.port, "a.example.com", ca);
  t.false(probe.ok);
  await gateway.metrics.waitForError("connect-failure");
  t.deepEqual(gateway.metrics.errors, [{ route: "ns/down", kind: "connect-failure" }]);
  t.deepEqual(gateway.metrics.connections, ["ns/down"]);
});

test("a backend that resets mid-stream resets the client and counts reset", async (t) => {
  const resetting = net.createServer((socket) => socket.once("data", () => socket.resetAndDestroy()));
  const port = await listenOnLoopback(resetting);
  t.teardown(closer(resetting));
  const gateway = await startGateway([route("ns/rst", [], { address: "127.0.0.1", port, weight: 1 })]);
  t.teardown(() => gateway.listener.close(0));
  t.false((await tlsProbe(gateway.port, "a.example.com", ca)).ok);
  await gateway.metrics.waitForError("reset");
  t.deepEqual(gateway.metrics.errors, [{ route: "ns/rst", kind: "reset" }]);
});

test("half-close: the backend still answers after the client has finished sending", async (t) => {
  // A plain TCP backend sees the hello as opaque bytes; what matters is the FIN ordering.
  const backendServer = net.createServer({ allowHalfOpen: true }, (socket) => {
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    socket.on("end", () => socket.end(`got ${Buffer.concat(received).length} bytes, then your FIN`));
  });
  const port = await listenOnLoopback(backendServer);
  t.teardown(closer(backendServer));
  const gateway = await startGateway([route("ns/half", [], { address: "127.0.0.1", port, weight: 1 })]);
  t.teardown(() => gateway.listener.close(0));

  const hello = await captureClientHello({ servername: "a.example.com" });
  const answer = await new Promise<string>((resolve, reject) => {
    const client = net.connect({ port: gateway.port, host: "127.0.0.1", allowHalfOpen: true }, () => {
      client.end(Buffer.concat([hello, Buffer.from("tail")]));
    });
    let text = "";
    client.on("data", (chunk: Buffer) => (text += chunk.toString()));
    client.on("end", () => resolve(text));
    client.on("error", reject);
  });
  t.is(answer, `got ${hello.length + 4} bytes, then your FIN`);
});
