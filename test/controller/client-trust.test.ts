// ClientTrafficPolicy's trust settings: which peers may send a PROXY header (proxyProtocol.
// trustedCIDRs, strict ranges, safe default), and each HTTPS listener's TLS versions and suites
// (tls.minVersion, tls.ciphers, Envoy Gateway's spelling), with the reasons for what is refused.
import test from "ava";
import { DEFAULT_TRUSTED_PROXY_CIDRS } from "../../gateway/listener/cidr.js";
import { gateway, meshgatePolicy as policy, run, tlsSecret } from "../support/controller-yaml.js";
import { makeCa } from "../support/tls-certs.js";

const ca = await makeCa();
const a = await ca.issue(["a.example.com"]);
const b = await ca.issue(["b.example.com"]);
const edge = await ca.issue(["edge.example.com"]);

const GW = gateway(
  "gw",
  `
  - {name: a, protocol: HTTPS, port: 8443, hostname: a.example.com, tls: {certificateRefs: [{name: a}]}}
  - {name: b, protocol: HTTPS, port: 8443, hostname: b.example.com, tls: {certificateRefs: [{name: b}]}}
  - {name: any, protocol: HTTPS, port: 8443, tls: {certificateRefs: [{name: edge}]}}
  - {name: web, protocol: HTTP, port: 8080}`,
);
const SECRETS = `${tlsSecret("a", a.chainPem, a.keyPem)}${tlsSecret("b", b.chainPem, b.keyPem)}${tlsSecret("edge", edge.chainPem, edge.keyPem)}`;
const accepted = (status: ReturnType<typeof run>["status"], name: string) =>
  status.policies.find((p) => p.name === name)?.conditions[0];

test("proxyProtocol.trustedCIDRs reaches the Snapshot; without it the default ranges do", (t) => {
  const listed = run(`${GW}${SECRETS}
${policy("ClientTrafficPolicy", "lb", "targetRefs: [{kind: Gateway, name: gw}]\nproxyProtocol: {trustedCIDRs: [35.191.0.0/16, 130.211.0.0/22, '2600:1901::/48']}")}`);
  t.is(accepted(listed.status, "lb")?.status, "True");
  for (const port of listed.snapshot.ports) {
    t.true(port.client.proxyProtocol);
    t.deepEqual(port.client.trustedProxyCIDRs, ["35.191.0.0/16", "130.211.0.0/22", "2600:1901::/48"]);
  }
  const plain = run(`${GW}${SECRETS}
${policy("ClientTrafficPolicy", "lb", "targetRefs: [{kind: Gateway, name: gw}]\nproxyProtocol: {}")}`);
  t.deepEqual(plain.snapshot.ports[0]?.client.trustedProxyCIDRs, [...DEFAULT_TRUSTED_PROXY_CIDRS]);
});

test("a range that is not exactly a network is refused, saying what is wrong", (t) => {
  const cases: [string, RegExp][] = [
    ["[10.0.0.1/8]", /"10\.0\.0\.1\/8" has bits set after the prefix length \(the network is 10\.0\.0\.0\/8\)/],
    ["[10.0.0.1]", /"10\.0\.0\.1" needs a prefix length/],
    ["[10.0.0.0/40]", /prefix length must be a number from 0 to 32/],
    ["[10.0.0.300/8]", /"10\.0\.0\.300" is not an IPv4 or IPv6 address/],
    ["[]", /must name at least one range/],
  ];
  for (const [list, reason] of cases) {
    const { snapshot, status } = run(`${GW}${SECRETS}
${policy("ClientTrafficPolicy", "lb", `targetRefs: [{kind: Gateway, name: gw}]\nproxyProtocol: {trustedCIDRs: ${list}}`)}`);
    const condition = accepted(status, "lb");
    t.is(condition?.reason, "Invalid", list);
    t.regex(condition?.message ?? "", /spec\.proxyProtocol\.trustedCIDRs/, list);
    t.regex(condition?.message ?? "", reason, list);
    t.false(snapshot.ports[0]?.client.proxyProtocol, "a refused policy changes nothing");
  }
});

test("tls settings apply per HTTPS listener: its own policy, else its Gateway's", (t) => {
  const { snapshot, status } = run(`${GW}${SECRETS}
${policy("ClientTrafficPolicy", "wide", "targetRefs: [{kind: Gateway, name: gw}]\ntls: {ciphers: [ECDHE-ECDSA-AES256-GCM-SHA384, '[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]']}")}
${policy("ClientTrafficPolicy", "b-only", "targetRefs: [{kind: Gateway, name: gw, sectionName: b}]\ntls: {minVersion: '1.3'}")}`);
  const tls = snapshot.ports.find((p) => p.port === 8443)?.tls;
  const wide = { minVersion: "1.2", ciphers: ["ECDHE-ECDSA-AES256-GCM-SHA384", "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]"] };
  t.deepEqual(
    tls?.serverNames.map((s) => [s.hostname, s.policy]),
    [
      ["a.example.com", wide],
      ["b.example.com", { minVersion: "1.3", ciphers: [] }],
    ],
  );
  t.deepEqual(tls?.fallbackPolicy, wide, "the catch-all listener's handshakes too");
  t.is(accepted(status, "wide")?.status, "True");
  t.is(accepted(status, "b-only")?.status, "True");

  // With the HTTPS port alone, b-only gives the port its client settings (a listener's policy
  // beats its Gateway's); wide is not Conflicted, for its tls settings still apply.
  const httpsOnly = run(`${GW.replace(/\n {2}- \{name: web.*\}/, "")}${SECRETS}
${policy("ClientTrafficPolicy", "wide", "targetRefs: [{kind: Gateway, name: gw}]\nclientLimits: {maxBodyBytes: 5}\ntls: {ciphers: [ECDHE-ECDSA-AES256-GCM-SHA384]}")}
${policy("ClientTrafficPolicy", "b-only", "targetRefs: [{kind: Gateway, name: gw, sectionName: b}]\nclientLimits: {maxBodyBytes: 10}\ntls: {minVersion: '1.3'}")}`);
  t.is(httpsOnly.snapshot.ports[0]?.client.maxBodyBytes, 10);
  t.is(httpsOnly.snapshot.ports.length, 1);
  t.is(accepted(httpsOnly.status, "wide")?.status, "True");
  t.regex(accepted(httpsOnly.status, "wide")?.message ?? "", /port 8443 takes its client settings from default\/b-only; its tls settings apply/);
});

test("a listener's policy with only tls settings leaves the port's client settings to its Gateway's", (t) => {
  const { snapshot, status } = run(`${GW}${SECRETS}
${policy("ClientTrafficPolicy", "edge", "targetRefs: [{kind: Gateway, name: gw}]\nproxyProtocol: {}\ntls: {ciphers: [ECDHE-ECDSA-AES128-GCM-SHA256]}")}
${policy("ClientTrafficPolicy", "b-tls13", "targetRefs: [{kind: Gateway, name: gw, sectionName: b}]\ntls: {minVersion: '1.3'}")}`);
  const port = snapshot.ports.find((p) => p.port === 8443);
  t.true(port?.client.proxyProtocol, "the PROXY protocol stays on for the whole port");
  t.deepEqual(
    port?.tls?.serverNames.map((s) => s.policy?.minVersion),
    ["1.2", "1.3"],
  );
  t.is(accepted(status, "edge")?.message, "applies to Gateway gw");
  t.is(accepted(status, "b-tls13")?.status, "True");
});

test("without a policy no listener carries tls settings: the data plane's defaults apply", (t) => {
  const { snapshot } = run(`${GW}${SECRETS}`);
  const tls = snapshot.ports.find((p) => p.port === 8443)?.tls;
  t.true(tls?.serverNames.every((s) => s.policy === undefined));
  t.is(tls?.fallbackPolicy, undefined);
});

test("tls settings the build cannot honour are refused with the reason", (t) => {
  const cases: [string, RegExp][] = [
    ["{minVersion: '1.1'}", /must be "1\.2" or "1\.3" \(TLS 1\.0 and 1\.1 are never offered\)/],
    ["{minVersion: '1.3', ciphers: [ECDHE-RSA-AES128-GCM-SHA256]}", /with minVersion 1\.3 there are none to choose/],
    ["{ciphers: [ECDHE-RSA-AES128-SHA256]}", /"ECDHE-RSA-AES128-SHA256" is not a TLS 1\.2 cipher suite this build knows/],
    ["{ciphers: [TLS_AES_128_GCM_SHA256]}", /TLS_AES_128_GCM_SHA256 is a TLS 1\.3 suite/],
    ["{ciphers: ['HIGH:!aNULL']}", /"HIGH:!aNULL" is not a TLS 1\.2 cipher suite/],
    ["{ciphers: []}", /spec\.tls\.ciphers/],
    ["{maxVersion: '1.3'}", /maxVersion/],
  ];
  for (const [spec, reason] of cases) {
    const { snapshot, status } = run(`${GW}${SECRETS}
${policy("ClientTrafficPolicy", "bad", `targetRefs: [{kind: Gateway, name: gw}]\ntls: ${spec}`)}`);
    t.is(accepted(status, "bad")?.reason, "Invalid", spec);
    t.regex(accepted(status, "bad")?.message ?? "", reason, spec);
    t.true(snapshot.ports.find((p) => p.port === 8443)?.tls?.serverNames.every((s) => s.policy === undefined));
  }
});

test("tls settings on a policy that reaches no HTTPS listener are noted", (t) => {
  const { status } = run(`${GW}${SECRETS}
${policy("ClientTrafficPolicy", "web", "targetRefs: [{kind: Gateway, name: gw, sectionName: web}]\ntls: {minVersion: '1.3'}")}`);
  t.is(accepted(status, "web")?.status, "True");
  t.regex(accepted(status, "web")?.message ?? "", /its tls settings apply to HTTPS listeners and TLS listeners in tls.mode Terminate only, and it reaches none/);
});
