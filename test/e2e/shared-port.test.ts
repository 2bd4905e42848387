// One port, two modes (Gateway API allows HTTPS and TLS listeners to share a port): the SNI
// name decides whether a connection is piped untouched to a TLSRoute's backend or terminated
// by meshgate with the HTTPS listener's certificate; the terminated requests still carry the
// real client address in X-Forwarded-For.
import test from "ava";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { opensslProbe, startTlsBackend } from "../gateway/passthrough/harness.js";
import { startBackend } from "../support/backend.js";
import { tlsSecret } from "../support/controller-yaml.js";
import { configFolder, loopbackService, startMeshgate } from "../support/meshgate.js";
import { freePort } from "../support/net.js";
import { makeCa } from "../support/tls-certs.js";

test("HTTPS and TLS passthrough listeners share a port by SNI", async (t) => {
  const ca = await makeCa();
  const shopCert = await ca.issue(["shop.example.com"], { commonName: "meshgate shop" });
  const db = await startTlsBackend(ca, "db", ["db.example.com"]);
  const app = await startBackend("app");
  const port = await freePort();
  const folder = configFolder();
  folder.write(
    "edge.yaml",
    `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  gatewayClassName: meshgate
  listeners:
  - {name: shop, protocol: HTTPS, port: ${port}, hostname: shop.example.com, tls: {certificateRefs: [{name: shop}]}}
  - {name: db, protocol: TLS, port: ${port}, hostname: db.example.com, tls: {mode: Passthrough}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: shop}]
  rules: [{backendRefs: [{name: app, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: db, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: db}]
  rules: [{backendRefs: [{name: db, port: 443}]}]
${loopbackService("app", 80, "http", app.port)}${loopbackService("db", 443, "tls", db.port)}${tlsSecret("shop", shopCert.chainPem, shopCert.keyPem)}`,
  );
  const gw = await startMeshgate(folder.dir);
  try {
    const piped = await opensslProbe(port, "db.example.com", ca);
    t.is(piped.serial, db.serial, "db.example.com is piped to the backend, which presents its own certificate");
    const terminated = await opensslProbe(port, "shop.example.com", ca);
    t.regex(terminated.output, /subject=CN ?= ?meshgate shop/, "shop.example.com is terminated by meshgate");
    t.true(terminated.verified);

    // A client on another loopback address, so its address differs from the hand-off's.
    const reply = await new Promise<string>((resolve, reject) => {
      const tcp = netConnect({ host: "127.0.0.1", port, localAddress: "127.0.0.9" });
      const socket = tlsConnect(
        { socket: tcp, servername: "shop.example.com", ca: ca.certPem },
        () => socket.write("GET /cart HTTP/1.1\r\nhost: shop.example.com\r\nconnection: close\r\n\r\n"),
      );
      let text = "";
      socket.on("data", (d: Buffer) => (text += d.toString()));
      socket.on("end", () => resolve(text));
      socket.on("error", reject);
    });
    t.regex(reply, /^HTTP\/1\.1 200 OK/);
    const seen = app.received.at(-1);
    t.is(seen?.url, "/cart");
    t.is(seen?.headers["x-forwarded-for"], "127.0.0.9");
    t.is(seen?.headers["x-forwarded-proto"], "https");
  } finally {
    t.is(await gw.stop(), 0);
    await db.close();
    await app.close();
  }
});
