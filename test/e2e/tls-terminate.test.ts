// `meshgate standalone` with TLS listeners in tls.mode Terminate, checked as a client sees them:
// the handshake presents the listener's certificate (subject and SAN checked by a verifying
// client), the backend receives the bytes decrypted and its answer comes back, weights share the
// connections; Passthrough, Terminate and HTTPS listeners share one port by SNI; a replaced
// Secret reaches new connections; status and metrics say what happened.
import test from "ava";
import { X509Certificate } from "node:crypto";
import fc from "fast-check";
import { opensslProbe, startTlsBackend, tlsProbe } from "../gateway/passthrough/harness.js";
import { startBackend } from "../support/backend.js";
import { filesStatus } from "../support/cli.js";
import { tlsSecret } from "../support/controller-yaml.js";
import { fcSeed } from "../support/fc-seed.js";
import { configFolder, loopbackService, startMeshgate } from "../support/meshgate.js";
import { freePort, waitFor } from "../support/net.js";
import { makeCa } from "../support/tls-certs.js";
import { startPlainBackend, terminateProbe } from "../support/tls-terminate.js";
import tls from "node:tls";


const GATEWAY_HEAD = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  gatewayClassName: meshgate
  listeners:
`;

function tlsRoute(name: string, section: string, backendRefs: string): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: ${name}, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: ${section}}]
  rules: [{backendRefs: [${backendRefs}]}]
`;
}

type ListenerStatus = {
  name: string;
  attachedRoutes: number;
  supportedKinds: { kind: string }[];
  conditions: { type: string; status: string; reason: string; message: string }[];
};

function listenersOf(statusJson: string): ListenerStatus[] {
  return (JSON.parse(statusJson) as { gateways: { listeners: ListenerStatus[] }[] }).gateways[0]?.listeners ?? [];
}

const summary = (l: ListenerStatus | undefined) => l?.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`);

test("a TLS listener in Terminate mode ends TLS with its certificate and pipes the decrypted bytes to the TLSRoute's backends by weight", async (t) => {
  const ca = await makeCa();
  const cert = await ca.issue(["db.example.com", "strict.example.com"], { commonName: "meshgate db" });
  const heavy = await startPlainBackend("heavy");
  const light = await startPlainBackend("light");
  const port = await freePort();
  const folder = configFolder();
  folder.write(
    "edge.yaml",
    `${GATEWAY_HEAD}  - {name: db, protocol: TLS, port: ${port}, hostname: db.example.com, tls: {mode: Terminate, certificateRefs: [{name: db-cert}]}}
  - {name: strict, protocol: TLS, port: ${port}, hostname: strict.example.com, tls: {certificateRefs: [{name: db-cert}]}}
  - {name: broken, protocol: TLS, port: ${port}, hostname: broken.example.com, tls: {mode: Terminate, certificateRefs: [{name: missing}]}}
${tlsRoute("db", "db", "{name: heavy, port: 9000, weight: 3}, {name: light, port: 9000, weight: 1}")}${tlsRoute("strict", "strict", "{name: heavy, port: 9000}")}${tlsRoute("broken", "broken", "{name: heavy, port: 9000}")}---
apiVersion: meshgate.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: strict-tls, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge, sectionName: strict}]
  tls: {minVersion: "1.3"}
${loopbackService("heavy", 9000, "tcp", heavy.port)}${loopbackService("light", 9000, "tcp", light.port)}${tlsSecret("db-cert", cert.chainPem, cert.keyPem)}`,
  );
  const gw = await startMeshgate(folder.dir);
  try {
    const first = await terminateProbe(port, "db.example.com", ca, { line: "hello in the clear" });
    t.true(first.ok, JSON.stringify(first));
    if (!first.ok) return;
    t.is(first.subject, "meshgate db", "the client saw the listener's certificate");
    t.is(first.san, "DNS:db.example.com, DNS:strict.example.com");
    t.is(first.serial, new X509Certificate(cert.certPem).serialNumber);
    t.is(first.echo, "hello in the clear", "the answer came back through the gateway");
    const got = [...heavy.received, ...light.received];
    t.deepEqual(got, ["hello in the clear\n"], "the backend received the bytes decrypted");

    const connections = 80;
    const banners = new Map<string, number>();
    for (let i = 0; i < connections; i++) {
      const probe = await terminateProbe(port, "db.example.com", ca);
      const banner = probe.ok ? probe.banner : `error: ${probe.error}`;
      banners.set(banner, (banners.get(banner) ?? 0) + 1);
    }
    t.log(`${connections} connections, weights 3:1:`, Object.fromEntries(banners));
    const heavyShare = banners.get("heavy") ?? 0;
    t.is(heavyShare + (banners.get("light") ?? 0), connections);
    // Binomial(80, 0.75): heavy above half (P(<= 40) ~ 1.3e-6) and light reached at all (P(0) ~ 1e-10).
    // That the weights are followed exactly is the table's unit test (routes.ts, injected draws).
    t.true(heavyShare > connections / 2 && heavyShare < connections, `heavy got ${heavyShare}`);

    // The listener's ClientTrafficPolicy: TLS 1.3 only.
    const old = await terminateProbe(port, "strict.example.com", ca, { maxVersion: "TLSv1.2" });
    t.false(old.ok, "a TLS 1.2 client is refused on the TLS 1.3 listener");
    const modern = await terminateProbe(port, "strict.example.com", ca);
    t.true(modern.ok && modern.protocol === "TLSv1.3" && modern.banner === "heavy", JSON.stringify(modern));
    const allowed = await terminateProbe(port, "db.example.com", ca, { maxVersion: "TLSv1.2" });
    t.true(allowed.ok && allowed.protocol === "TLSv1.2", "TLS 1.2 stays allowed on the other listener");
    // The listener with a bad certificateRef is not served: its name is refused with an alert.
    const broken = await terminateProbe(port, "broken.example.com", ca);
    t.false(broken.ok);

    const listeners = listenersOf((await gw.admin("/status")).text);
    const db = listeners.find((l) => l.name === "db");
    t.deepEqual(summary(db), [
      "Accepted=True/Accepted",
      "Conflicted=False/NoConflicts",
      "ResolvedRefs=True/ResolvedRefs",
      "Programmed=True/Programmed",
    ]);
    t.deepEqual(db?.supportedKinds.map((k) => k.kind), ["TLSRoute"]);
    t.is(db?.attachedRoutes, 1);
    const brokenStatus = listeners.find((l) => l.name === "broken");
    t.deepEqual(summary(brokenStatus), [
      "Accepted=True/Accepted",
      "Conflicted=False/NoConflicts",
      "ResolvedRefs=False/InvalidCertificateRef",
      "Programmed=False/Invalid",
    ]);
    t.regex(brokenStatus?.conditions[2]?.message ?? "", /Secret default\/missing: not found/);

    // `meshgate status` on the same folder says the same.
    const stdout = await filesStatus(folder.dir);
    t.log(stdout.split("\n").filter((l) => /db|strict|broken/.test(l)).join("\n"));
    t.regex(stdout, /broken[^\n]*InvalidCertificateRef: Secret default\/missing: not found/);
    t.regex(stdout, /default\/edge\/db\s+\d+\s+TLS\s+db\.example\.com\s+1\s+True\s+True/);

    await waitFor(async () => /meshgate_tls_route_errors_total\{route="default\/strict",mode="Terminate",kind="handshake-version"\} 1/.test((await gw.admin("/metrics")).text), 3000);
    const metrics = (await gw.admin("/metrics")).text;
    t.log(metrics.split("\n").filter((l) => /^meshgate_(tls_route|tcp_front)/.test(l)).join("\n"));
    t.regex(metrics, new RegExp(`meshgate_tls_route_connections_total\\{route="default/db",mode="Terminate"\\} ${connections + 2}\\b`));
    t.regex(metrics, new RegExp(`meshgate_tcp_front_errors_total\\{port="${port}",kind="no-route"\\} 1`));
    t.regex(metrics, /meshgate_tls_route_bytes_total\{route="default\/db",mode="Terminate",direction="upstream"\} [1-9]/);
  } finally {
    t.is(await gw.stop(), 0);
    await heavy.close();
    await light.close();
  }
});

test("one port, three listeners: HTTPS (uWS), TLS Passthrough and TLS Terminate, each SNI name ending at the right place", async (t) => {
  const ca = await makeCa();
  const webCert = await ca.issue(["*.example.com"], { commonName: "meshgate web" });
  const termCert = await ca.issue(["*.term.example.com", "mail.example.com"], { commonName: "meshgate term" });
  const db = await startTlsBackend(ca, "db", ["db.example.com"]);
  const plain = await startPlainBackend("plain");
  const app = await startBackend("app");
  const port = await freePort();
  const folder = configFolder();
  folder.write(
    "edge.yaml",
    `${GATEWAY_HEAD}  - {name: web, protocol: HTTPS, port: ${port}, hostname: "*.example.com", tls: {certificateRefs: [{name: web}]}}
  - {name: pass, protocol: TLS, port: ${port}, hostname: db.example.com, tls: {mode: Passthrough}}
  - {name: term, protocol: TLS, port: ${port}, hostname: "*.term.example.com", tls: {mode: Terminate, certificateRefs: [{name: term}]}}
  - {name: mail, protocol: TLS, port: ${port}, hostname: mail.example.com, tls: {mode: Terminate, certificateRefs: [{name: term}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: web}]
  rules: [{backendRefs: [{name: app, port: 80}]}]
${tlsRoute("db", "pass", "{name: db, port: 443}")}${tlsRoute("term", "term", "{name: plain, port: 9000}")}${tlsRoute("mail", "mail", "{name: plain, port: 9000}")}${loopbackService("app", 80, "http", app.port)}${loopbackService("db", 443, "tls", db.port)}${loopbackService("plain", 9000, "tcp", plain.port)}${tlsSecret("web", webCert.chainPem, webCert.keyPem)}${tlsSecret("term", termCert.chainPem, termCert.keyPem)}`,
  );
  const gw = await startMeshgate(folder.dir);
  try {
    const listeners = listenersOf((await gw.admin("/status")).text);
    t.deepEqual(
      listeners.map((l) => `${l.name}:${l.conditions.find((c) => c.type === "Programmed")?.status}`),
      ["web:True", "pass:True", "term:True", "mail:True"],
      "sharing the port is no ProtocolConflict",
    );
    const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
    const name = fc.oneof(
      fc.constant({ sni: "db.example.com", to: "passthrough" }),
      fc.constant({ sni: "mail.example.com", to: "terminate" }),
      label.map((l) => ({ sni: `${l}.term.example.com`, to: "terminate" })),
      label.filter((l) => l !== "db" && l !== "mail" && l !== "term").map((l) => ({ sni: `${l}.example.com`, to: "https" })),
      label.map((l) => ({ sni: `${l}.example.org`, to: "refused" })),
    );
    const seed = fcSeed();
    t.log(`FC_SEED=${seed}`);
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(name, async ({ sni, to }) => {
        seen.set(to, (seen.get(to) ?? 0) + 1);
        if (to === "passthrough") {
          const probe = await tlsProbe(port, sni, ca);
          return probe.ok && probe.serial === db.serial && probe.banner === "db";
        }
        if (to === "terminate") {
          const probe = await terminateProbe(port, sni, ca);
          return probe.ok && probe.subject === "meshgate term" && probe.banner === "plain" && probe.echo === `ping ${sni}`;
        }
        if (to === "https") {
          const answer = await httpsGet(port, sni, ca);
          return answer.subject === "meshgate web" && /^HTTP\/1\.1 200 OK/.test(answer.text) && app.received.at(-1)?.url === `/${sni}`;
        }
        const probe = await terminateProbe(port, sni, ca);
        return !probe.ok;
      }),
      { seed, numRuns: 40 },
    );
    t.log("cases by destination:", Object.fromEntries(seen));
    const piped = await opensslProbe(port, "db.example.com", ca);
    t.is(piped.serial, db.serial, "openssl too sees the backend's own certificate for db.example.com");
    const terminated = await opensslProbe(port, "x.term.example.com", ca);
    t.true(terminated.verified && /subject=CN ?= ?meshgate term/.test(terminated.output), terminated.output);
  } finally {
    t.is(await gw.stop(), 0);
    await db.close();
    await plain.close();
    await app.close();
  }
});

test("a replaced Secret reaches new connections of a Terminate listener; an open connection keeps its session", async (t) => {
  const ca = await makeCa();
  const before = await ca.issue(["db.example.com"], { commonName: "before" });
  const after = await ca.issue(["db.example.com"], { commonName: "after" });
  const plain = await startPlainBackend("plain");
  const port = await freePort();
  const folder = configFolder();
  const config =
    `${GATEWAY_HEAD}  - {name: db, protocol: TLS, port: ${port}, tls: {mode: Terminate, certificateRefs: [{name: db-cert}]}}
${tlsRoute("db", "db", "{name: plain, port: 9000}")}${loopbackService("plain", 9000, "tcp", plain.port)}`;
  folder.write("edge.yaml", config);
  folder.write("secret.yaml", tlsSecret("db-cert", before.chainPem, before.keyPem));
  const gw = await startMeshgate(folder.dir);
  try {
    const first = await terminateProbe(port, "db.example.com", ca);
    t.true(first.ok && first.subject === "before", JSON.stringify(first));
    // A connection opened before the rotation, still open after it.
    const open = tls.connect({ host: "127.0.0.1", port, servername: "db.example.com", ca: ca.certPem });
    open.on("error", () => undefined);
    let openText = "";
    open.on("data", (d: Buffer) => (openText += d.toString()));
    await waitFor(() => openText === "plain\n");

    folder.write("secret.yaml", tlsSecret("db-cert", after.chainPem, after.keyPem));
    await waitFor(async () => {
      const probe = await terminateProbe(port, "db.example.com", ca);
      return probe.ok && probe.subject === "after";
    }, 10_000);
    t.pass("a new connection sees the new certificate");
    open.write("still here\n");
    await waitFor(() => openText === "plain\nstill here\n");
    t.is(String(open.getPeerCertificate().subject.CN), "before", "the open connection kept its session");
    open.end();
  } finally {
    t.is(await gw.stop(), 0);
    await plain.close();
  }
});

/** One HTTPS request to `/<sni>`; the subject of the certificate the client was shown, and the answer. */
function httpsGet(port: number, sni: string, ca: { certPem: string }): Promise<{ subject: string; text: string }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: sni, ca: ca.certPem }, () =>
      socket.write(`GET /${sni} HTTP/1.1\r\nhost: ${sni}\r\nconnection: close\r\n\r\n`),
    );
    let text = "";
    socket.on("data", (d: Buffer) => (text += d.toString()));
    socket.on("end", () => resolve({ subject: String(socket.getPeerCertificate().subject?.CN ?? ""), text }));
    socket.on("error", (error) => resolve({ subject: "", text: `error: ${error.message}` }));
  });
}
