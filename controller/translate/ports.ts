// Snapshot ports: the served listeners grouped by port, with the port's client settings.
import type { PortInput, PortTlsInput } from "../../gateway/snapshot.js";
import { condition } from "../status/conditions.js";
import { compareHostSpecificity } from "./hostnames.js";
import type { ListenerState } from "./listeners.js";
import { compareAge, compareText } from "./order.js";
import type { ClientSettingsInput } from "./policies.js";
import type { AttachedPolicy, PolicyAttachments } from "./policy-targets.js";

/**
 * One Snapshot port per listener port, its listeners most specific hostname first. Client
 * settings are per port: of the ClientTrafficPolicies of the listeners sharing it, one aimed at
 * a listener wins over one aimed at a whole Gateway, then the oldest; the others are Conflicted.
 */
export function buildPorts(
  served: readonly ListenerState[],
  policies: PolicyAttachments<ClientSettingsInput>,
): PortInput[] {
  const byPort = new Map<number, ListenerState[]>();
  for (const l of served) byPort.set(l.spec.port, [...(byPort.get(l.spec.port) ?? []), l]);
  const applied = new Set<AttachedPolicy<ClientSettingsInput>>();
  const overridden = new Map<AttachedPolicy<ClientSettingsInput>, string>();
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
          ...(section === undefined ? [] : [{ policy: section, specific: 0 }]),
          ...(whole === undefined ? [] : [{ policy: whole, specific: 1 }]),
        ];
      });
      candidates.sort((a, b) => a.specific - b.specific || compareAge(a.policy.resource, b.policy.resource));
      const winner = candidates[0]?.policy;
      // TLS listeners pipe by SNI; HTTPS ones on the same port share it behind that SNI front.
      const piped = ls.filter((l) => l.spec.protocol === "TLS");
      const served = ls.filter((l) => l.spec.protocol !== "TLS");
      const passthrough = piped.length === 0 ? {} : { passthrough: piped.flatMap((l) => l.passthrough) };
      if (served.length === 0) return { port, protocol: "TLS", listeners: [], ...passthrough };
      const out: PortInput = {
        port,
        protocol: "HTTP",
        listeners: served.map((l) => l.out),
        ...tlsOf(served),
        ...passthrough,
      };
      if (winner === undefined) return out;
      applied.add(winner);
      for (const c of candidates)
        if (c.policy !== winner)
          overridden.set(c.policy, `port ${port} takes its client settings from ${winner.id}`);
      return { ...out, client: winner.settings };
    });
  for (const [policy, message] of overridden) {
    if (applied.has(policy)) continue;
    policies.setAccepted(
      policy,
      condition("Accepted", false, "Conflicted", message, policy.resource.metadata.generation),
    );
  }
  return ports;
}

/** An HTTPS port's certificates: one per listener hostname, the catch-all listener's as fallback. */
function tlsOf(ls: readonly ListenerState[]): { protocol: "HTTPS"; tls: PortTlsInput } | undefined {
  if (ls[0]?.spec.protocol !== "HTTPS") return undefined;
  const certificates = new Map<string, { name: string; certPem: string; keyPem: string }>();
  const serverNames: { hostname: string; certificate: string }[] = [];
  let fallback: string | undefined;
  for (const l of ls) {
    const cert = l.certificate;
    if (cert === undefined) continue;
    certificates.set(cert.id, { name: cert.id, certPem: cert.certPem, keyPem: cert.keyPem });
    if (l.spec.hostname === undefined) fallback ??= cert.id;
    else serverNames.push({ hostname: l.spec.hostname, certificate: cert.id });
  }
  return {
    protocol: "HTTPS",
    tls: { certificates: [...certificates.values()], serverNames, ...(fallback === undefined ? {} : { fallback }) },
  };
}
