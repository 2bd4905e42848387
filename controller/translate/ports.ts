// Snapshot ports: the served listeners grouped by port, with the port's client settings.
import type { PassthroughRouteInput, PortInput, PortTlsInput, TlsPolicyInput } from "../../gateway/snapshot.js";
import { condition } from "../status/conditions.js";
import { compareHostSpecificity } from "./hostnames.js";
import type { ServedCertificate } from "./certificates.js";
import type { ListenerState } from "./listeners.js";
import { compareAge, compareText } from "./order.js";
import type { ClientPolicySettings } from "./policies.js";
import type { AttachedPolicy, PolicyAttachments } from "./policy-targets.js";

/**
 * One Snapshot port per listener port, its listeners most specific hostname first. Client
 * settings are per port: of the ClientTrafficPolicies of the listeners sharing it, one aimed at
 * a listener wins over one aimed at a whole Gateway, then the oldest; the others are Conflicted.
 * TLS settings are per HTTPS listener (uWS has a TLS context per SNI name) and per TLS listener in
 * tls.mode Terminate: each takes them from the policy aimed at it, else from the one on its
 * Gateway; a policy with only tls settings does not compete for the port's client settings.
 */
export function buildPorts(
  served: readonly ListenerState[],
  policies: PolicyAttachments<ClientPolicySettings>,
): PortInput[] {
  const byPort = new Map<number, ListenerState[]>();
  for (const l of served) byPort.set(l.spec.port, [...(byPort.get(l.spec.port) ?? []), l]);
  const applied = new Set<AttachedPolicy<ClientPolicySettings>>();
  const overridden = new Map<AttachedPolicy<ClientPolicySettings>, string>();
  /** Policies whose tls settings some HTTPS listener took. */
  const tlsApplied = new Set<AttachedPolicy<ClientPolicySettings>>();
  const tlsPolicyOf = (l: ListenerState): TlsPolicyInput | undefined => {
    const gw = l.gateway.metadata;
    const policy =
      policies.find("Gateway", gw.namespace, gw.name, l.spec.name) ?? policies.find("Gateway", gw.namespace, gw.name);
    if (policy?.settings.tls === undefined) return undefined;
    tlsApplied.add(policy);
    return policy.settings.tls;
  };
  const tlsNote = (l: ListenerState, note: string): void => {
    const gw = l.gateway.metadata;
    const policy =
      policies.find("Gateway", gw.namespace, gw.name, l.spec.name) ?? policies.find("Gateway", gw.namespace, gw.name);
    if (policy !== undefined) policies.addNote(policy, note);
  };
  const ports = [...byPort.entries()]
    .sort(([a], [b]) => a - b)
    .map(([port, ls]): PortInput => {
      ls.sort(
        (a, b) =>
          compareHostSpecificity(a.spec.hostname, b.spec.hostname) || compareText(a.out.name, b.out.name),
      );
      const candidates = ls.flatMap((l) => {
        const gw = l.gateway.metadata;
        const section = policies.find("Gateway", gw.namespace, gw.name, l.spec.name);
        const whole = policies.find("Gateway", gw.namespace, gw.name);
        return [
          ...(section === undefined || tlsOnly(section) ? [] : [{ policy: section, specific: 0 }]),
          ...(whole === undefined || tlsOnly(whole) ? [] : [{ policy: whole, specific: 1 }]),
        ];
      });
      candidates.sort((a, b) => a.specific - b.specific || compareAge(a.policy.resource, b.policy.resource));
      const winner = candidates[0]?.policy;
      // TLS listeners route by SNI (piped untouched, or terminated by the SNI front itself);
      // HTTPS ones on the same port share it behind that SNI front.
      const piped = ls.filter((l) => l.spec.protocol === "TLS");
      const served = ls.filter((l) => l.spec.protocol !== "TLS");
      const passthrough =
        piped.length === 0 ? {} : { passthrough: piped.flatMap((l) => tlsRoutesOf(l, tlsPolicyOf, tlsNote)) };
      const terminated = piped.flatMap((l) => (l.certificate === undefined ? [] : [l.certificate]));
      if (served.length === 0) {
        const tls = terminated.length === 0 ? {} : { tls: { certificates: distinct(terminated) } };
        return { port, protocol: "TLS", listeners: [], ...tls, ...passthrough };
      }
      const out: PortInput = {
        port,
        protocol: "HTTP",
        listeners: served.map((l) => l.out),
        ...tlsOf(served, tlsPolicyOf, terminated),
        ...passthrough,
      };
      if (winner === undefined) return out;
      applied.add(winner);
      for (const c of candidates)
        if (c.policy !== winner)
          overridden.set(c.policy, `port ${port} takes its client settings from ${winner.id}`);
      return { ...out, client: winner.settings.client };
    });
  for (const [policy, message] of overridden) {
    if (applied.has(policy)) continue;
    if (tlsApplied.has(policy)) {
      policies.addNote(policy, `${message}; its tls settings apply`);
      continue;
    }
    policies.setAccepted(
      policy,
      condition("Accepted", false, "Conflicted", message, policy.resource.metadata.generation),
    );
  }
  for (const policy of policies.attached) {
    if (policy.settings.tls !== undefined && !tlsApplied.has(policy)) {
      policies.addNote(policy, "its tls settings apply to HTTPS listeners and TLS listeners in tls.mode Terminate only, and it reaches none");
    }
  }
  return ports;
}

/** A policy that sets only tls leaves the port's client settings to the others. */
function tlsOnly(policy: AttachedPolicy<ClientPolicySettings>): boolean {
  return policy.settings.tls !== undefined && Object.keys(policy.settings.client).length === 0;
}

/**
 * The TLSRoutes placed on a TLS listener; on one in tls.mode Terminate, each is served with the
 * listener's certificate and TLS policy.
 */
function tlsRoutesOf(
  l: ListenerState,
  policyOf: (l: ListenerState) => TlsPolicyInput | undefined,
  noteOf: (l: ListenerState, note: string) => void,
): PassthroughRouteInput[] {
  const cert = l.certificate;
  if (cert === undefined) return l.passthrough;
  const policy = policyOf(l);
  if (policy?.ciphers?.some((c) => c.includes(NO_3DES)) === true) noteOf(l, NO_3DES_NOTE);
  return l.passthrough.map((r) => ({
    ...r,
    mode: "Terminate",
    certificate: cert.id,
    ...(policy === undefined ? {} : { policy }),
  }));
}

/** The one suite of cipher-suites.ts that node:tls's OpenSSL does not have. */
const NO_3DES = "DES-CBC3-SHA";
const NO_3DES_NOTE =
  "DES-CBC3-SHA is not offered on TLS listeners in tls.mode Terminate (their OpenSSL has no 3DES); a list of it alone refuses every client";

type PortCertificate = { name: string; certPem: string; keyPem: string };

/** Each certificate once, by name (one Secret may serve several listeners). */
function distinct(certs: readonly ServedCertificate[]): PortCertificate[] {
  const byName = new Map(certs.map((c) => [c.id, { name: c.id, certPem: c.certPem, keyPem: c.keyPem }]));
  return [...byName.values()];
}

/**
 * An HTTPS port's certificates: one per listener hostname, the catch-all listener's as fallback;
 * each with its listener's TLS policy, when a ClientTrafficPolicy sets one. `terminated`: the
 * certificates of TLS listeners in tls.mode Terminate sharing the port, which its SNI front serves.
 */
function tlsOf(
  ls: readonly ListenerState[],
  policyOf: (l: ListenerState) => TlsPolicyInput | undefined,
  terminated: readonly ServedCertificate[],
): { protocol: "HTTPS"; tls: PortTlsInput } | undefined {
  if (ls[0]?.spec.protocol !== "HTTPS") return undefined;
  const certificates = new Map<string, PortCertificate>();
  for (const c of distinct(terminated)) certificates.set(c.name, c);
  const serverNames: PortTlsInput["serverNames"] & object = [];
  let fallback: Pick<PortTlsInput, "fallback" | "fallbackPolicy"> | undefined;
  for (const l of ls) {
    const cert = l.certificate;
    if (cert === undefined) continue;
    certificates.set(cert.id, { name: cert.id, certPem: cert.certPem, keyPem: cert.keyPem });
    const policy = policyOf(l);
    if (l.spec.hostname === undefined) {
      fallback ??= policy === undefined ? { fallback: cert.id } : { fallback: cert.id, fallbackPolicy: policy };
    } else {
      serverNames.push({ hostname: l.spec.hostname, certificate: cert.id, ...(policy === undefined ? {} : { policy }) });
    }
  }
  return { protocol: "HTTPS", tls: { certificates: [...certificates.values()], serverNames, ...fallback } };
}
