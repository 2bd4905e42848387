// AcmeCertificatePolicy: parsing (strict, reasons in status), which listeners it gives an ACME
// certificate, and how the ACME manager's state (none, pending, issued, failed, renewal failing)
// becomes listener conditions, Snapshot certificates, HTTP-01 answers and certificate requests.
import test from "ava";
import type { StatusReport } from "../../controller/status/report.js";
import {
  type AcmeCertificateState,
  type AcmeInputs,
  acmeRequestKey,
} from "../../controller/translate/acme-certificates.js";
import { translate } from "../../controller/translate/index.js";
import { parseAcmeCertificatePolicy } from "../../controller/translate/policies.js";
import { type Snapshot, validateSnapshot } from "../../gateway/snapshot.js";
import { fromYaml, GATEWAY_CLASS, gateway, listenerCondition, meshgatePolicy, tlsSecret } from "../support/controller-yaml.js";
import { makeCa } from "../support/tls-certs.js";

// The test CA's certificates are valid around the real clock; ACME state is placed around it.
const NOW = Date.now();
const DAY = 86_400_000;
const DIRECTORY = "https://acme.example.net/directory";
const ca = await makeCa();
const shopCert = await ca.issue(["shop.example.com"]);
const apiCert = await ca.issue(["api.example.com"]);

const LISTENERS = `
  - {name: http, protocol: HTTP, port: 8080}
  - {name: shop, protocol: HTTPS, port: 8443, hostname: shop.example.com}
  - {name: wild, protocol: HTTPS, port: 8443, hostname: "*.example.com"}
  - {name: any, protocol: HTTPS, port: 9443}
  - {name: api, protocol: HTTPS, port: 8443, hostname: api.example.com, tls: {certificateRefs: [{name: api}]}}`;

function policy(name: string, spec: string, created?: string): string {
  return meshgatePolicy("AcmeCertificatePolicy", name, spec, created);
}

const WHOLE_GATEWAY = policy(
  "public",
  `targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge}]
acme: {directory: "${DIRECTORY}", email: ops@example.com}`,
);

function translateYaml(yaml: string, acme?: AcmeInputs) {
  const { resources, errors } = fromYaml(yaml);
  if (errors.length > 0) throw new Error(JSON.stringify(errors));
  const t = translate(resources, { version: 1, now: NOW, ...(acme === undefined ? {} : { acme }) });
  const v = validateSnapshot(t.snapshot);
  if (!v.ok) throw new Error(v.errors.join("; "));
  return { ...t, snapshot: v.snapshot as Snapshot };
}

const CONFIG = `${GATEWAY_CLASS}${gateway("edge", LISTENERS)}${tlsSecret("api", apiCert.chainPem, apiCert.keyPem)}${WHOLE_GATEWAY}`;
const accountId = () => {
  const parsed = parseAcmeCertificatePolicy({
    targetRefs: [{ kind: "Gateway", name: "edge" }],
    acme: { directory: DIRECTORY, email: "ops@example.com" },
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.settings.id;
};
const SHOP_KEY = acmeRequestKey(accountId(), ["shop.example.com"]);

function inputs(state?: AcmeCertificateState, challenges: Record<string, string> = {}): AcmeInputs {
  return { certificates: new Map(state === undefined ? [] : [[SHOP_KEY, state]]), challenges };
}

const issued = (notAfter = NOW + 90 * DAY) => ({ certPem: shopCert.chainPem, keyPem: shopCert.keyPem, notAfter });
const shopCondition = (status: StatusReport, type: string) => listenerCondition(status, "default/edge", "shop", type);
const policyAccepted = (status: StatusReport, name: string) => {
  const c = status.policies.find((p) => p.name === name)?.conditions.find((x) => x.type === "Accepted");
  return `${c?.status}/${c?.reason}: ${c?.message}`;
};

test("policy specs are strict: unknown fields and bad values are refused with the reason", (t) => {
  const cases: [string, string, RegExp][] = [
    ["typo", `targetRefs: [{kind: Gateway, name: edge}]\nacme: {directory: "${DIRECTORY}", emial: a@b.c}`, /^False\/Invalid: spec\.acme: Unrecognized key: "emial"/],
    ["extra", `targetRefs: [{kind: Gateway, name: edge}]\nacme: {directory: "${DIRECTORY}"}\nchallenge: dns-01`, /^False\/Invalid: spec: Unrecognized key: "challenge"/],
    ["no acme", `targetRefs: [{kind: Gateway, name: edge}]`, /^False\/Invalid: spec\.acme: /],
    ["http directory", `targetRefs: [{kind: Gateway, name: edge}]\nacme: {directory: "http://acme.example.net/dir"}`, /spec\.acme\.directory: must be the https:\/\/ URL of an ACME directory/],
    ["not a url", `targetRefs: [{kind: Gateway, name: edge}]\nacme: {directory: letsencrypt}`, /spec\.acme\.directory: must be the https:\/\/ URL/],
    ["email", `targetRefs: [{kind: Gateway, name: edge}]\nacme: {directory: "${DIRECTORY}", email: "ops at example"}`, /spec\.acme\.email: must be an email address/],
    ["route target", `targetRefs: [{kind: HTTPRoute, name: app}]\nacme: {directory: "${DIRECTORY}"}`, /spec\.targetRefs\.0: a target must be a Gateway of gateway\.networking\.k8s\.io/],
    ["no target", `targetRefs: []\nacme: {directory: "${DIRECTORY}"}`, /spec\.targetRefs: /],
  ];
  for (const [what, spec, reason] of cases) {
    const name = what.toLowerCase().replace(/ /g, "-");
    const { status } = translateYaml(`${GATEWAY_CLASS}${gateway("edge", LISTENERS)}${policy(name, spec)}`);
    t.regex(policyAccepted(status, name), reason, what);
  }
});

test("a caBundle must hold certificates only, and a key pasted into it is never quoted", (t) => {
  const key = shopCert.keyPem;
  const cases: [string, RegExp][] = [
    [key, /spec\.acme\.caBundle: may hold CERTIFICATE blocks only/],
    ["hello", /spec\.acme\.caBundle: holds no PEM block/],
    ["-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n", /spec\.acme\.caBundle: holds a CERTIFICATE block that does not parse/],
  ];
  for (const [bundle, reason] of cases) {
    const parsed = parseAcmeCertificatePolicy({ targetRefs: [{ kind: "Gateway", name: "edge" }], acme: { directory: DIRECTORY, caBundle: bundle } });
    t.false(parsed.ok);
    if (parsed.ok) continue;
    t.regex(parsed.message, reason);
    t.false(parsed.message.includes("PRIVATE KEY"));
  }
  const good = parseAcmeCertificatePolicy({ targetRefs: [{ kind: "Gateway", name: "edge" }], acme: { directory: DIRECTORY, caBundle: ca.certPem } });
  t.true(good.ok);
});

test("an account id is the same for the same directory, email and CA bundle, and differs otherwise", (t) => {
  const id = (acme: object) => {
    const parsed = parseAcmeCertificatePolicy({ targetRefs: [{ kind: "Gateway", name: "other" }], acme });
    return parsed.ok ? parsed.settings.id : parsed.message;
  };
  t.is(id({ directory: DIRECTORY, email: "ops@example.com" }), accountId());
  t.regex(accountId(), /^[0-9a-f]{16}$/);
  t.not(id({ directory: DIRECTORY }), accountId());
  t.not(id({ directory: DIRECTORY, email: "ops@example.com", caBundle: ca.certPem }), accountId());
  t.not(id({ directory: "https://acme-staging.example.net/directory", email: "ops@example.com" }), accountId());
});

test("no manager state yet: the listener is pending, not served, and its certificate is requested", (t) => {
  const { snapshot, status, acmeRequests } = translateYaml(CONFIG, inputs());
  t.deepEqual(acmeRequests, [
    {
      key: SHOP_KEY,
      issuer: { id: accountId(), directory: DIRECTORY, email: "ops@example.com" },
      names: ["shop.example.com"],
    },
  ]);
  const programmed = shopCondition(status, "Programmed");
  t.is(programmed?.status, "False");
  t.is(programmed?.reason, "Pending");
  t.is(programmed?.message, `waiting for its first certificate for shop.example.com from ACME ${DIRECTORY}`);
  t.is(shopCondition(status, "ResolvedRefs")?.status, "True");
  t.is(shopCondition(status, "Accepted")?.status, "True");
  const https = snapshot.ports.find((p) => p.port === 8443);
  t.deepEqual(https?.tls?.serverNames.map((s) => s.hostname), ["api.example.com"], "a certificateRefs listener is served from its Secret");
  t.regex(policyAccepted(status, "public"), /^True\/Accepted: applies to Gateway edge$/);
});

test("without a running manager (meshgate status) the listener says only the gateway knows", (t) => {
  const { status, acmeRequests } = translateYaml(CONFIG);
  t.is(acmeRequests.length, 1);
  t.regex(shopCondition(status, "Programmed")?.message ?? "", /is requested; only the running gateway knows its state/);
});

test("an issued certificate is served for the listener's hostname and the listener is Programmed", (t) => {
  const { snapshot, status } = translateYaml(CONFIG, inputs({ state: "valid", certificate: issued() }));
  const https = snapshot.ports.find((p) => p.port === 8443);
  const id = `acme:${accountId()}/shop.example.com`;
  t.deepEqual(https?.tls?.serverNames, [
    { hostname: "shop.example.com", certificate: id },
    { hostname: "api.example.com", certificate: "default/api" },
  ]);
  const cert = https?.tls?.certificates.find((c) => c.name === id);
  t.is(cert?.certPem, shopCert.chainPem);
  t.is(cert?.keyPem, shopCert.keyPem);
  t.is(shopCondition(status, "Programmed")?.status, "True");
  t.is(shopCondition(status, "ResolvedRefs")?.status, "True");
});

test("a first order that failed: pending, with the CA's reason and the next attempt", (t) => {
  const cases: [AcmeCertificateState["lastError"], RegExp][] = [
    [{ kind: "unreachable", message: `ACME server ${DIRECTORY} unreachable: ECONNREFUSED` }, /\(unreachable\): ACME server .* unreachable: ECONNREFUSED/],
    [{ kind: "challenge-failed", message: "HTTP-01 challenge failed: 404" }, /\(challenge-failed\): HTTP-01 challenge failed: 404/],
    [{ kind: "rate-limited", message: "rate limited by the CA: too many certificates" }, /\(rate-limited\): rate limited by the CA/],
  ];
  for (const [lastError, reason] of cases) {
    const next = NOW + 60_000;
    const { snapshot, status } = translateYaml(CONFIG, inputs({ state: "failed", ...(lastError && { lastError }), nextAttemptAt: next }));
    const programmed = shopCondition(status, "Programmed");
    t.is(programmed?.status, "False");
    t.is(programmed?.reason, "Pending");
    t.regex(programmed?.message ?? "", /^no certificate for shop\.example\.com from ACME https:\/\/acme\.example\.net\/directory yet: the last attempt failed /);
    t.regex(programmed?.message ?? "", reason);
    t.true(programmed?.message.endsWith(`; next attempt at ${new Date(next).toISOString()}`));
    t.false(snapshot.ports.some((p) => p.tls?.serverNames.some((s) => s.hostname === "shop.example.com")));
  }
  const retrying = translateYaml(CONFIG, inputs({ state: "pending", lastError: { kind: "other", message: "boom" } }));
  t.regex(shopCondition(retrying.status, "Programmed")?.message ?? "", /boom; retrying now$/);
});

test("a renewal that fails keeps serving the current certificate; ResolvedRefs says why", (t) => {
  const notAfter = NOW + 20 * DAY;
  const { snapshot, status } = translateYaml(
    CONFIG,
    inputs({
      state: "failed",
      certificate: issued(notAfter),
      lastError: { kind: "unreachable", message: "ACME server unreachable: ETIMEDOUT" },
      nextAttemptAt: NOW + 120_000,
    }),
  );
  t.true(snapshot.ports.some((p) => p.tls?.serverNames.some((s) => s.hostname === "shop.example.com")));
  t.is(shopCondition(status, "Programmed")?.status, "True");
  const resolved = shopCondition(status, "ResolvedRefs");
  t.is(resolved?.status, "False");
  t.is(
    resolved?.message,
    `renewal of shop.example.com from ACME ${DIRECTORY} failed (unreachable): ACME server unreachable: ETIMEDOUT; serving the current certificate until ${new Date(notAfter).toISOString()}; next attempt at ${new Date(NOW + 120_000).toISOString()}`,
  );
  const renewing = translateYaml(CONFIG, inputs({ state: "renewing", certificate: issued() }));
  t.is(shopCondition(renewing.status, "ResolvedRefs")?.status, "True", "a renewal in flight is not a problem");
});

test("an expired certificate is not served: the listener is pending again", (t) => {
  const { status } = translateYaml(CONFIG, inputs({ state: "pending", certificate: issued(NOW - DAY) }));
  const programmed = shopCondition(status, "Programmed");
  t.is(programmed?.reason, "Pending");
  t.true(programmed?.message.startsWith(`its certificate expired on ${new Date(NOW - DAY).toISOString()}; waiting for its first certificate`));
});

test("wildcard and hostname-less listeners cannot get an HTTP-01 certificate, and say so", (t) => {
  const { status, acmeRequests } = translateYaml(CONFIG, inputs());
  t.deepEqual(acmeRequests.map((r) => r.names), [["shop.example.com"]]);
  for (const [listener, what] of [["wild", "the wildcard hostname \\*\\.example\\.com"], ["any", "a listener without a hostname"]] as const) {
    const resolved = listenerCondition(status, "default/edge", listener, "ResolvedRefs");
    t.is(resolved?.status, "False");
    t.is(resolved?.reason, "InvalidCertificateRef");
    t.regex(resolved?.message ?? "", new RegExp(`AcmeCertificatePolicy default/public: HTTP-01 cannot issue a certificate for ${what}`));
    t.is(listenerCondition(status, "default/edge", listener, "Programmed")?.reason, "Invalid");
  }
});

test("HTTP-01 answers go into the Snapshot, for every HTTP port to serve", (t) => {
  const { snapshot } = translateYaml(CONFIG, inputs(undefined, { zToken: "zToken.thumb", aToken: "aToken.thumb" }));
  t.deepEqual(snapshot.acmeChallenges, { aToken: "aToken.thumb", zToken: "zToken.thumb" });
  t.deepEqual(Object.keys(snapshot.acmeChallenges), ["aToken", "zToken"]);
});

test("a policy on a listener wins over one on its Gateway; a second one on the same target is Conflicted", (t) => {
  const section = policy(
    "staging",
    `targetRefs: [{kind: Gateway, name: edge, sectionName: shop}]\nacme: {directory: "https://staging.example.net/dir"}`,
    "2026-01-02T00:00:00Z",
  );
  const late = policy(
    "late",
    `targetRefs: [{kind: Gateway, name: edge, sectionName: shop}]\nacme: {directory: "${DIRECTORY}"}`,
    "2026-01-03T00:00:00Z",
  );
  const { status, acmeRequests } = translateYaml(`${CONFIG}${section}${late}`, inputs());
  t.deepEqual(acmeRequests.map((r) => r.issuer.directory), ["https://staging.example.net/dir"]);
  t.regex(shopCondition(status, "Programmed")?.message ?? "", /from ACME https:\/\/staging\.example\.net\/dir$/);
  t.regex(policyAccepted(status, "late"), /^False\/Conflicted: Gateway edge \(section shop\) already has AcmeCertificatePolicy default\/staging/);
  const missing = translateYaml(`${CONFIG}${policy("lost", `targetRefs: [{kind: Gateway, name: nowhere}]\nacme: {directory: "${DIRECTORY}"}`)}`);
  t.regex(policyAccepted(missing.status, "lost"), /^False\/TargetNotFound: Gateway nowhere not found/);
});

test("without an HTTP listener the policy warns that the CA cannot reach its challenges", (t) => {
  const noHttp = LISTENERS.replace("  - {name: http, protocol: HTTP, port: 8080}\n", "");
  const { status } = translateYaml(`${GATEWAY_CLASS}${gateway("edge", noHttp)}${tlsSecret("api", apiCert.chainPem, apiCert.keyPem)}${WHOLE_GATEWAY}`, inputs());
  t.regex(policyAccepted(status, "public"), /^True\/Accepted: applies to Gateway edge; no HTTP listener is served, so the CA cannot fetch HTTP-01 challenges/);
});

test("ACME translation is deterministic whatever order resources arrive in", (t) => {
  const { resources } = fromYaml(CONFIG);
  const state = inputs({ state: "valid", certificate: issued() });
  const expected = translate(resources, { version: 1, now: NOW, acme: state });
  t.deepEqual(translate([...resources].reverse(), { version: 1, now: NOW, acme: state }), expected);
});
