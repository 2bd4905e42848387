// HTTPS listeners: certificateRefs to kubernetes.io/tls Secrets become the port's certificates
// by SNI name; a Secret that is missing, malformed, mismatched, expired or not permitted is
// refused with its reason, and one that turns bad keeps its last good certificate serving.
import test from "ava";
import { translate } from "../../controller/translate/index.js";
import { type Snapshot, validateSnapshot } from "../../gateway/snapshot.js";
import { fromYaml, GATEWAY_CLASS, gateway, listenerCondition, tlsSecret } from "../support/controller-yaml.js";
import { makeCa } from "../support/tls-certs.js";

const ca = await makeCa();
const a = await ca.issue(["a.example.com"]);
const b = await ca.issue(["b.example.com"]);
const fallback = await ca.issue(["edge.example.com"]);
const expired = await ca.issue(["a.example.com"], {
  notBefore: new Date(Date.now() - 10 * 86_400_000),
  notAfter: new Date(Date.now() - 86_400_000),
});

const LISTENERS = `
  - {name: a, protocol: HTTPS, port: 8443, hostname: a.example.com, tls: {certificateRefs: [{name: a}]}}
  - {name: b, protocol: HTTPS, port: 8443, hostname: b.example.com, tls: {certificateRefs: [{name: b, namespace: certs}]}}
  - {name: any, protocol: HTTPS, port: 8443, tls: {mode: Terminate, certificateRefs: [{kind: Secret, name: edge}]}}`;

const GRANT = `---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: gateways, namespace: certs}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: default}]
  to: [{group: "", kind: Secret}]
`;

function translateYaml(yaml: string, lastGood?: ReturnType<typeof translate>["certificates"]) {
  const { resources, errors } = fromYaml(yaml);
  if (errors.length > 0) throw new Error(JSON.stringify(errors));
  const t = translate(resources, { version: 1, ...(lastGood === undefined ? {} : { lastGoodCertificates: lastGood }) });
  const v = validateSnapshot(t.snapshot);
  if (!v.ok) throw new Error(v.errors.join("; "));
  return { ...t, snapshot: v.snapshot as Snapshot };
}

const secrets = (aSecret = tlsSecret("a", a.chainPem, a.keyPem)) =>
  `${aSecret}${tlsSecret("b", b.chainPem, b.keyPem, { namespace: "certs" })}${tlsSecret("edge", fallback.chainPem, fallback.keyPem)}`;

test("HTTPS listeners on one port: a certificate per hostname, the catch-all's as fallback", (t) => {
  const { snapshot, status } = translateYaml(`${GATEWAY_CLASS}${gateway("edge", LISTENERS)}${GRANT}${secrets()}`);
  const port = snapshot.ports[0]!;
  t.is(port.protocol, "HTTPS");
  t.deepEqual(port.tls?.serverNames, [
    { hostname: "a.example.com", certificate: "default/a" },
    { hostname: "b.example.com", certificate: "certs/b" },
  ]);
  t.is(port.tls?.fallback, "default/edge");
  t.is(port.tls?.certificates.find((c) => c.name === "default/a")?.certPem, a.chainPem);
  for (const l of ["a", "b", "any"]) t.is(listenerCondition(status, "default/edge", l, "Programmed")?.status, "True");
});

test("a Secret written with stringData (plain PEM) serves as one with base64 data; stringData wins a key given in both", (t) => {
  const indent = (pem: string) => pem.trim().split("\n").map((line) => `    ${line}`).join("\n");
  const plain = `---
apiVersion: v1
kind: Secret
metadata: {name: a, namespace: default}
type: kubernetes.io/tls
data:
  tls.crt: ${Buffer.from(b.chainPem).toString("base64")}
stringData:
  tls.crt: |
${indent(a.chainPem)}
  tls.key: |
${indent(a.keyPem)}
`;
  const { snapshot, status } = translateYaml(`${GATEWAY_CLASS}${gateway("edge", LISTENERS)}${GRANT}${secrets(plain)}`);
  t.is(listenerCondition(status, "default/edge", "a", "Programmed")?.status, "True");
  const served = snapshot.ports[0]?.tls?.certificates.find((c) => c.name === "default/a");
  t.is(served?.certPem.trim(), a.chainPem.trim());
  t.is(served?.keyPem.trim(), a.keyPem.trim());
});

test("a Secret in another namespace needs a ReferenceGrant", (t) => {
  const { snapshot, status } = translateYaml(`${GATEWAY_CLASS}${gateway("edge", LISTENERS)}${secrets()}`);
  const resolved = listenerCondition(status, "default/edge", "b", "ResolvedRefs");
  t.is(resolved?.reason, "RefNotPermitted");
  t.is(listenerCondition(status, "default/edge", "b", "Programmed")?.status, "False");
  t.deepEqual(
    snapshot.ports[0]?.tls?.serverNames.map((s) => s.hostname),
    ["a.example.com"],
  );
});

test("bad Secrets are refused with the reason and the listener is not served", (t) => {
  const cases: [string, string, RegExp][] = [
    ["missing", "", /Secret default\/a: not found/],
    ["mismatched key", tlsSecret("a", a.chainPem, b.keyPem), /does not match/],
    ["expired", tlsSecret("a", expired.chainPem, expired.keyPem), /expired on/],
    ["not PEM", tlsSecret("a", "hello", "world"), /tls.crt and tls.key must both be set/],
    ["wrong type", tlsSecret("a", a.chainPem, a.keyPem, { type: "Opaque" }), /not kubernetes.io\/tls/],
  ];
  for (const [what, secret, reason] of cases) {
    const { snapshot, status } = translateYaml(`${GATEWAY_CLASS}${gateway("edge", LISTENERS)}${GRANT}${secrets(secret)}`);
    const resolved = listenerCondition(status, "default/edge", "a", "ResolvedRefs");
    t.is(resolved?.status, "False", what);
    t.is(resolved?.reason, "InvalidCertificateRef", what);
    t.regex(resolved?.message ?? "", reason, what);
    t.false(resolved?.message.includes("PRIVATE KEY") ?? true, `${what}: no key material in status`);
    t.false(snapshot.ports[0]?.tls?.serverNames.some((s) => s.hostname === "a.example.com") ?? true, what);
  }
});

test("a Secret that turns bad keeps serving its last good certificate, and the status says so", (t) => {
  const first = translateYaml(`${GATEWAY_CLASS}${gateway("edge", LISTENERS)}${GRANT}${secrets()}`);
  const broken = tlsSecret("a", a.chainPem, b.keyPem);
  const second = translateYaml(`${GATEWAY_CLASS}${gateway("edge", LISTENERS)}${GRANT}${secrets(broken)}`, first.certificates);
  const cert = second.snapshot.ports[0]?.tls?.certificates.find((c) => c.name === "default/a");
  t.is(cert?.certPem, a.chainPem);
  t.is(cert?.keyPem, a.keyPem);
  const resolved = listenerCondition(second.status, "default/edge", "a", "ResolvedRefs");
  t.is(resolved?.status, "False");
  t.regex(resolved?.message ?? "", /does not match.*serving its last good certificate/);
  t.is(listenerCondition(second.status, "default/edge", "a", "Programmed")?.status, "True");
});

test("HTTP and HTTPS listeners cannot share a port: the later one is a ProtocolConflict", (t) => {
  const { snapshot, status } = translateYaml(
    `${GATEWAY_CLASS}${gateway("edge", `
  - {name: plain, protocol: HTTP, port: 8443}
  - {name: a, protocol: HTTPS, port: 8443, hostname: a.example.com, tls: {certificateRefs: [{name: a}]}}`)}${secrets()}`,
  );
  t.is(snapshot.ports[0]?.protocol, "HTTP");
  t.is(listenerCondition(status, "default/edge", "a", "Conflicted")?.reason, "ProtocolConflict");
});
