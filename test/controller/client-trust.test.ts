// ClientTrafficPolicy's trust settings: which peers may send a PROXY header (proxyProtocol.
// trustedCIDRs, strict ranges, safe default), with the reasons for what is refused.
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
