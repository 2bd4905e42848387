// Behind a cloud load balancer: with the PROXY protocol turned on by a ClientTrafficPolicy, the
// client address in the header (v1 or v2) reaches X-Forwarded-For; a connection without the
// header is refused; trusted X-Forwarded-For hops choose the client the access log records.
import { connect } from "node:net";
import test from "ava";
import { startBackend } from "../support/backend.js";
import { basicConfig, configFolder, startMeshgate } from "../support/meshgate.js";
import { freePort, waitFor } from "../support/net.js";

/** Sends raw bytes and resolves with everything received until the gateway closes. */
function exchange(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    // write, not end: uWebSockets.js closes a half-closed connection without answering.
    const socket = connect(port, "127.0.0.1", () => socket.write(bytes));
    socket.setTimeout(3000, () => socket.destroy());
    let text = "";
    socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
    socket.on("close", () => resolve(text));
    socket.on("error", () => resolve(text));
  });
}

const REQUEST = "GET /who HTTP/1.1\r\nhost: shop.example.com\r\nx-forwarded-for: 198.51.100.1\r\nconnection: close\r\n\r\n";

/** A PROXY v2 header for TCP over IPv6 from 2001:db8::7 port 4444. */
function proxyV2(): Buffer {
  const signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  const source = Buffer.alloc(16);
  source.writeUInt16BE(0x2001, 0);
  source.writeUInt16BE(0x0db8, 2);
  source.writeUInt16BE(7, 14);
  const destination = Buffer.alloc(16);
  destination.writeUInt16BE(1, 14);
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(4444, 0);
  ports.writeUInt16BE(443, 2);
  const body = Buffer.concat([source, destination, ports]);
  const head = Buffer.from([0x21, 0x21, 0, 0]);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([signature, head, body]);
}

test("PROXY protocol v1 and v2 carry the client address; no header, no service; trusted hops pick the client", async (t) => {
  const backend = await startBackend("app");
  const port = await freePort();
  const folder = configFolder();
  folder.write(
    "gateway.yaml",
    `${basicConfig(port, [backend.port])}---
apiVersion: meshgate.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: behind-lb, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge}]
  proxyProtocol: {}
  clientIPDetection: {xForwardedFor: {numTrustedHops: 1}}
`,
  );
  const gw = await startMeshgate(folder.dir, ["--access-log", "stdout"]);
  try {
    const v1 = await exchange(port, Buffer.from(`PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\n${REQUEST}`));
    t.regex(v1, /^HTTP\/1\.1 200 OK/);
    t.is(backend.received.at(-1)?.headers["x-forwarded-for"], "198.51.100.1, 203.0.113.7");

    const v2 = await exchange(port, Buffer.concat([proxyV2(), Buffer.from(REQUEST)]));
    t.regex(v2, /^HTTP\/1\.1 200 OK/);
    t.is(backend.received.at(-1)?.headers["x-forwarded-for"], "198.51.100.1, 2001:db8::7");

    const before = backend.received.length;
    const bare = await exchange(port, Buffer.from(REQUEST));
    t.is(bare, "", "without a PROXY header the connection is closed unanswered");
    t.is(backend.received.length, before);
    const rejected = new RegExp(`^meshgate_proxy_protocol_rejected_total\\{port="${port}",reason="bad-header"\\} 1$`, "m");
    await waitFor(async () => rejected.test((await gw.admin("/metrics")).text), 3000);
    const metrics = (await gw.admin("/metrics")).text;
    t.log(metrics.split("\n").filter((l) => /^meshgate_(proxy_protocol|tcp_front|tls_)/.test(l)).join("\n"));
    // A PROXY front on plain HTTP is no TLS listener: nothing of it is counted as TLS.
    t.notRegex(metrics, /^meshgate_tls_\w+\{/m);
    t.notRegex(metrics, /^meshgate_tcp_front_errors_total\{/m, "a bad header is counted once, as a PROXY rejection");
    // The two answered connections were handed to the HTTP listener (summed over both workers).
    t.regex(metrics, new RegExp(`^meshgate_tcp_front_handoffs_total\\{port="${port}"\\} 2$`, "m"));

    // One trusted hop: the client is the last X-Forwarded-For entry the balancer's side wrote.
    await waitFor(() => gw.output().includes('"client":"198.51.100.1"'), 3000);
    t.false(gw.output().includes('"client":"127.'), "no loopback hand-off address reaches the log");
  } finally {
    t.is(await gw.stop(), 0);
    await backend.close();
  }
});

test("PROXY protocol from a peer outside trustedCIDRs: closed unread and counted; the ranges change live", async (t) => {
  const backend = await startBackend("app");
  const port = await freePort();
  const folder = configFolder();
  const config = (cidrs: string) => `${basicConfig(port, [backend.port])}---
apiVersion: meshgate.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: behind-lb, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge}]
  proxyProtocol: {trustedCIDRs: [${cidrs}]}
`;
  folder.write("gateway.yaml", config("35.191.0.0/16, 130.211.0.0/22"));
  const gw = await startMeshgate(folder.dir);
  try {
    const forged = Buffer.from(`PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\n${REQUEST}`);
    t.is(await exchange(port, forged), "", "a client reaching the port directly cannot pick its address");
    t.is(backend.received.length, 0);
    const untrusted = new RegExp(`^meshgate_proxy_protocol_rejected_total\\{port="${port}",reason="untrusted-source"\\} 1$`, "m");
    await waitFor(async () => untrusted.test((await gw.admin("/metrics")).text), 3000);

    folder.write("gateway.yaml", config("35.191.0.0/16, 127.0.0.0/8"));
    await waitFor(async () => (await exchange(port, forged)).startsWith("HTTP/1.1 200 OK"), 5000);
    // The header's address; the client's own X-Forwarded-For is not trusted without numTrustedHops.
    t.is(backend.received.at(-1)?.headers["x-forwarded-for"], "203.0.113.7");
  } finally {
    t.is(await gw.stop(), 0);
    await backend.close();
  }
});
