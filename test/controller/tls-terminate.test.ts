// TLS listeners in tls.mode Terminate, from YAML to the Snapshot and the status: their TLSRoutes
// carry the listener's certificate and TLS policy, they share a port with Passthrough and HTTPS
// listeners, a bad certificateRef is reported (and a last good certificate keeps serving), and the
// Snapshot refuses Terminate routes that do not say what to serve.
import test from "ava";
import { translate } from "../../controller/translate/index.js";
import { redactSnapshot, type Snapshot, validateSnapshot } from "../../gateway/snapshot.js";
import { fromYaml, GATEWAY_CLASS, gateway, meshgatePolicy as policy, run, tlsSecret } from "../support/controller-yaml.js";
import { makeCa } from "../support/tls-certs.js";

const ca = await makeCa();
const term = await ca.issue(["*.term.example.com"]);
const web = await ca.issue(["*.example.com"]);
const SECRETS = `${tlsSecret("term", term.chainPem, term.keyPem)}${tlsSecret("web", web.chainPem, web.keyPem)}`;

function tlsRoute(name: string, section: string, hostnames = "[]"): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: ${name}, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: ${section}}]
  hostnames: ${hostnames}
  rules: [{backendRefs: [{name: svc, port: 443}]}]
`;
}

const SERVICE = `---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: default}
spec: {ports: [{name: tls, port: 443}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: svc-1, namespace: default, labels: {kubernetes.io/service-name: svc}}
addressType: IPv4
ports: [{name: tls, port: 8443}]
endpoints: [{addresses: [10.0.0.1]}]
`;

const SHARED = `${GATEWAY_CLASS}${gateway(
  "edge",
  `
  - {name: web, protocol: HTTPS, port: 443, hostname: "*.example.com", tls: {certificateRefs: [{name: web}]}}
  - {name: pass, protocol: TLS, port: 443, hostname: db.example.com, tls: {mode: Passthrough}}
  - {name: term, protocol: TLS, port: 443, hostname: "*.term.example.com", tls: {mode: Terminate, certificateRefs: [{name: term}]}}`,
)}${tlsRoute("db", "pass")}${tlsRoute("api", "term", "[api.term.example.com]")}${SERVICE}${SECRETS}`;

function listenerOf(status: ReturnType<typeof run>["status"], name: string) {
  return status.gateways[0]?.listeners.find((l) => l.name === name);
}

const summary = (l: ReturnType<typeof listenerOf>) => l?.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`);

test("HTTPS, TLS Passthrough and TLS Terminate listeners share a port: one HTTPS port whose SNI front serves both TLSRoutes", (t) => {
  const { snapshot, status } = run(
    `${SHARED}${policy("ClientTrafficPolicy", "strict", "targetRefs: [{kind: Gateway, name: edge, sectionName: term}]\ntls: {minVersion: '1.3'}")}`,
  );
  t.is(snapshot.ports.length, 1);
  const port = snapshot.ports[0];
  t.is(port?.protocol, "HTTPS");
  t.deepEqual(
    port?.passthrough?.map((r) => [r.name, r.hostnames, r.mode, r.certificate, r.policy]),
    [
      ["default/db", ["db.example.com"], "Passthrough", undefined, undefined],
      ["default/api", ["api.term.example.com"], "Terminate", "default/term", { minVersion: "1.3", ciphers: [] }],
    ],
  );
  t.deepEqual(port?.tls?.certificates.map((c) => c.name).sort(), ["default/term", "default/web"]);
  t.deepEqual(port?.tls?.serverNames.map((s) => s.hostname), ["*.example.com"], "uWS serves only the HTTPS name");
  const redacted = redactSnapshot(snapshot).ports[0]?.tls?.certificates.map((c) => c.keyPem);
  t.deepEqual(redacted, ["[redacted]", "[redacted]"], "the Terminate certificate's key is hidden like the others");

  for (const name of ["web", "pass", "term"]) {
    t.deepEqual(summary(listenerOf(status, name)), [
      "Accepted=True/Accepted",
      "Conflicted=False/NoConflicts",
      "ResolvedRefs=True/ResolvedRefs",
      "Programmed=True/Programmed",
    ], name);
  }
  const termStatus = listenerOf(status, "term");
  t.deepEqual(termStatus?.supportedKinds, [{ group: "gateway.networking.k8s.io", kind: "TLSRoute" }]);
  t.is(termStatus?.attachedRoutes, 1);
  t.is(status.tlsRoutes.find((r) => r.name === "api")?.parents[0]?.conditions[0]?.status, "True");
});

test("a TLS port of Terminate listeners only: protocol TLS, the certificates in its tls, no server names", (t) => {
  const { snapshot } = run(`${GATEWAY_CLASS}${gateway(
    "edge",
    `
  - {name: term, protocol: TLS, port: 9443, tls: {certificateRefs: [{name: term}]}}`,
  )}${tlsRoute("api", "term")}${SERVICE}${SECRETS}`);
  const port = snapshot.ports[0];
  t.is(port?.protocol, "TLS");
  t.deepEqual(port?.tls?.certificates.map((c) => c.name), ["default/term"]);
  t.deepEqual(port?.tls?.serverNames, []);
  t.deepEqual(port?.passthrough?.map((r) => [r.hostnames, r.mode, r.certificate]), [[[], "Terminate", "default/term"]]);
});

test("a bad certificateRef on a Terminate listener: InvalidCertificateRef and not served, unless a last good certificate serves on", (t) => {
  const yaml = (secret: string) =>
    `${GATEWAY_CLASS}${gateway("edge", `
  - {name: term, protocol: TLS, port: 9443, tls: {mode: Terminate, certificateRefs: [{name: term}]}}`)}${tlsRoute("api", "term")}${SERVICE}${secret}`;
  const translated = (text: string, lastGood?: ReturnType<typeof translate>["certificates"]) => {
    const { resources } = fromYaml(text);
    const out = translate(resources, { version: 1, ...(lastGood === undefined ? {} : { lastGoodCertificates: lastGood }) });
    const v = validateSnapshot(out.snapshot);
    if (!v.ok) throw new Error(v.errors.join("; "));
    return { ...out, snapshot: v.snapshot as Snapshot };
  };
  const broken = tlsSecret("term", "garbage", "garbage").replace(/tls\.crt: .*/, "tls.crt: bm90IGEgY2VydGlmaWNhdGU=");

  const missing = translated(yaml(""));
  t.deepEqual(summary(listenerOf(missing.status, "term")), [
    "Accepted=True/Accepted",
    "Conflicted=False/NoConflicts",
    "ResolvedRefs=False/InvalidCertificateRef",
    "Programmed=False/Invalid",
  ]);
  t.deepEqual(missing.snapshot.ports, [], "not served");

  const good = translated(yaml(tlsSecret("term", term.chainPem, term.keyPem)));
  const kept = translated(yaml(broken), good.certificates);
  const condition = listenerOf(kept.status, "term")?.conditions.find((c) => c.type === "ResolvedRefs");
  t.is(condition?.reason, "InvalidCertificateRef");
  t.regex(condition?.message ?? "", /serving its last good certificate/);
  t.is(listenerOf(kept.status, "term")?.conditions.find((c) => c.type === "Programmed")?.status, "True");
  t.is(kept.snapshot.ports[0]?.tls?.certificates[0]?.certPem, term.chainPem, "the last good certificate serves");
});

test("a cipher list of DES-CBC3-SHA on a Terminate listener is noted on its ClientTrafficPolicy", (t) => {
  const { status } = run(
    `${SHARED}${policy("ClientTrafficPolicy", "old", "targetRefs: [{kind: Gateway, name: edge, sectionName: term}]\ntls: {ciphers: [DES-CBC3-SHA]}")}`,
  );
  const accepted = status.policies.find((p) => p.name === "old")?.conditions[0];
  t.regex(accepted?.message ?? "", /DES-CBC3-SHA is not offered on TLS listeners in tls\.mode Terminate/);
});

test("the Snapshot refuses Terminate routes that do not name a certificate of their port, and certificates on Passthrough ones", (t) => {
  const cert = { name: "c", certPem: "x", keyPem: "y" };
  const backends = [{ address: "10.0.0.1", port: 443, weight: 1 }];
  const cases: [string, unknown, RegExp][] = [
    ["no certificate", { mode: "Terminate" }, /a Terminate route needs a certificate/],
    ["missing certificate", { mode: "Terminate", certificate: "other" }, /certificate other is not in the port's tls\.certificates/],
    ["passthrough with one", { certificate: "c" }, /a Passthrough route has no certificate or policy/],
  ];
  for (const [what, extra, error] of cases) {
    const v = validateSnapshot({
      version: 1,
      ports: [{ port: 9443, protocol: "TLS", listeners: [], tls: { certificates: [cert] }, passthrough: [{ name: "r", backends, ...(extra as object) }] }],
    });
    t.false(v.ok, what);
    if (!v.ok) t.regex(v.errors.join("; "), error, what);
  }
  const named = validateSnapshot({
    version: 1,
    ports: [{ port: 9443, protocol: "TLS", listeners: [], tls: { certificates: [cert], fallback: "c" }, passthrough: [{ name: "r", backends, mode: "Terminate", certificate: "c" }] }],
  });
  t.false(named.ok);
  if (!named.ok) t.regex(named.errors.join("; "), /serverNames and fallback belong to HTTPS ports/);
  const fine = validateSnapshot({
    version: 1,
    ports: [{ port: 9443, protocol: "TLS", listeners: [], tls: { certificates: [cert] }, passthrough: [{ name: "r", backends, mode: "Terminate", certificate: "c" }] }],
  });
  t.true(fine.ok, fine.ok ? "" : fine.errors.join("; "));
});
