// Gateways -> listeners with their conditions. Every listener of every Gateway is reported; the
// HTTP ones that are valid and not conflicted are served. In standalone mode every Gateway binds
// the same address, so two listeners with one port and one hostname conflict even across Gateways.
import type { PassthroughRouteInput, RouteAction, RouteEntry } from "../../gateway/snapshot.js";
import { GATEWAY_GROUP, type ListenerSpec, type ResourceOf } from "../resources/index.js";
import { type Condition, condition } from "../status/conditions.js";
import type { CertificateIndex, ServedCertificate } from "./certificates.js";
import type { GatewayStatus, ListenerStatus, RouteGroupKind } from "../status/report.js";
import type { PrecedenceKey } from "./precedence.js";

/** Where every listener binds: the Snapshot's default port address. */
export const BIND_ADDRESS = "0.0.0.0";

export interface ListenerState {
  gateway: ResourceOf<"Gateway">;
  /** "namespace/name" of the Gateway. */
  gatewayId: string;
  spec: ListenerSpec;
  status: ListenerStatus;
  served: boolean;
  /** Routes ("namespace/name") the listener admits and shares a hostname with, served or not (attachedRoutes). */
  attached: Set<string>;
  /** The Snapshot listener; entries are filled in precedence order once every route is placed. */
  out: { name: string; gateway: string; hostname?: string; entries: RouteEntry[]; actions: RouteAction[] };
  /** HTTPS, and TLS in tls.mode Terminate: the certificate this listener's hostname is served with. */
  certificate?: ServedCertificate;
  /** TLS: the TLSRoutes placed on this listener. */
  passthrough: PassthroughRouteInput[];
  pending: { entry: RouteEntry; key: PrecedenceKey }[];
}

const HTTP_ROUTE: RouteGroupKind = { group: GATEWAY_GROUP, kind: "HTTPRoute" };
const TLS_ROUTE: RouteGroupKind = { group: GATEWAY_GROUP, kind: "TLSRoute" };

/** `gateways` oldest first: on a conflict the older listener keeps the port and hostname. */
export function buildListeners(
  gateways: readonly ResourceOf<"Gateway">[],
  classNames: ReadonlySet<string>,
  certificates: CertificateIndex,
): { listeners: ListenerState[]; statuses: GatewayStatus[] } {
  const listeners: ListenerState[] = [];
  const statuses: GatewayStatus[] = [];
  const claimed = new Map<string, string>();
  /** The protocol a port is served with: the first served listener's. */
  const portProtocols = new Map<number, { protocol: string; by: string }>();
  for (const gw of gateways) {
    const gen = gw.metadata.generation;
    const gatewayId = `${gw.metadata.namespace}/${gw.metadata.name}`;
    const status: GatewayStatus = {
      namespace: gw.metadata.namespace,
      name: gw.metadata.name,
      className: gw.spec.gatewayClassName,
      addresses: [],
      conditions: [],
      listeners: [],
    };
    statuses.push(status);
    for (const spec of gw.spec.listeners) {
      const state = listenerState(gw, gatewayId, spec);
      listeners.push(state);
      status.listeners.push(state.status);
      const c = state.status.conditions;
      if (spec.protocol !== "HTTP" && spec.protocol !== "HTTPS" && spec.protocol !== "TLS") {
        const message = `protocol ${spec.protocol} is not supported yet (HTTP, HTTPS and TLS only)`;
        c.push(
          condition("Accepted", false, "UnsupportedProtocol", message, gen),
          condition("Conflicted", false, "NoConflicts", "no conflicts", gen),
          condition("ResolvedRefs", true, "ResolvedRefs", "references resolved", gen),
          condition("Programmed", false, "Invalid", message, gen),
        );
        continue;
      }
      // A TLS listener in Passthrough mode holds no certificate; every other TLS one terminates.
      const terminates = spec.protocol === "HTTPS" || (spec.protocol === "TLS" && spec.tls?.mode !== "Passthrough");
      const tls = terminates ? terminate(spec, gw, certificates) : undefined;
      if (tls !== undefined && !tls.ok) {
        // Pending: a certificate is on its way (ACME); the references themselves are fine.
        const pending = tls.pending === true;
        c.push(
          condition("Accepted", tls.accepted, tls.accepted ? "Accepted" : "UnsupportedProtocol", tls.message, gen),
          condition("Conflicted", false, "NoConflicts", "no conflicts", gen),
          condition("ResolvedRefs", pending, tls.reason, pending ? "references resolved" : tls.message, gen),
          condition("Programmed", false, pending ? "Pending" : "Invalid", tls.message, gen),
        );
        continue;
      }
      const portHolder = portProtocols.get(spec.port);
      if (portHolder !== undefined && !shareable(portHolder.protocol, spec.protocol)) {
        const message = `port ${spec.port} is served as ${portHolder.protocol} by listener ${portHolder.by}`;
        c.push(
          condition("Accepted", false, "ProtocolConflict", message, gen),
          condition("Conflicted", true, "ProtocolConflict", message, gen),
          condition("ResolvedRefs", true, "ResolvedRefs", "references resolved", gen),
          condition("Programmed", false, "Invalid", message, gen),
        );
        continue;
      }
      const servedKind = spec.protocol === "TLS" ? "TLSRoute" : "HTTPRoute";
      const invalidKinds = (spec.allowedRoutes.kinds ?? []).filter(
        (k) => k.group !== GATEWAY_GROUP || k.kind !== servedKind,
      );
      const resolved =
        invalidKinds.length > 0
          ? condition(
              "ResolvedRefs",
              false,
              "InvalidRouteKinds",
              `route kinds not supported on an ${spec.protocol} listener: ${invalidKinds.map((k) => `${k.group}/${k.kind}`).join(", ")}`,
              gen,
            )
          : tls?.warning !== undefined
            ? condition("ResolvedRefs", false, "InvalidCertificateRef", tls.warning, gen)
            : condition("ResolvedRefs", true, "ResolvedRefs", "references resolved", gen);
      const hostKey = `${spec.port}|${spec.hostname ?? ""}`;
      const holder = claimed.get(hostKey);
      if (holder !== undefined) {
        const message = `listener ${holder} already serves port ${spec.port} for ${spec.hostname ?? "every hostname"}`;
        c.push(
          condition("Accepted", false, "HostnameConflict", message, gen),
          condition("Conflicted", true, "HostnameConflict", message, gen),
          resolved,
          condition("Programmed", false, "Invalid", message, gen),
        );
        continue;
      }
      claimed.set(hostKey, state.out.name);
      portProtocols.set(spec.port, { protocol: spec.protocol, by: state.out.name });
      state.served = true;
      if (tls?.ok) state.certificate = tls.certificate;
      c.push(
        condition("Accepted", true, "Accepted", "listener accepted", gen),
        condition("Conflicted", false, "NoConflicts", "no conflicts", gen),
        resolved,
        condition("Programmed", true, "Programmed", `serving on port ${spec.port}`, gen),
      );
    }
    status.conditions.push(...gatewayConditions(gw, status.listeners, classNames));
    if (status.listeners.some((l) => isTrue(l.conditions, "Programmed"))) status.addresses = [BIND_ADDRESS];
  }
  return { listeners, statuses };
}

/** What a protocol admits when allowedRoutes.kinds is not given, as the spec defaults it. */
const DEFAULT_KINDS: Record<string, string> = {
  HTTP: "HTTPRoute",
  HTTPS: "HTTPRoute",
  TLS: "TLSRoute",
  TCP: "TCPRoute",
  UDP: "UDPRoute",
};

function listenerState(gw: ResourceOf<"Gateway">, gatewayId: string, spec: ListenerSpec): ListenerState {
  const given = spec.allowedRoutes.kinds;
  const fallback = DEFAULT_KINDS[spec.protocol];
  // An HTTP listener admits only the kinds meshgate can serve on it; the others are reported
  // (InvalidRouteKinds). Listeners of other protocols are not served yet, so they keep theirs.
  const served = spec.protocol === "TLS" ? TLS_ROUTE : spec.protocol === "HTTP" || spec.protocol === "HTTPS" ? HTTP_ROUTE : undefined;
  const kinds =
    served !== undefined
      ? (given ?? [served]).filter((k) => k.group === GATEWAY_GROUP && k.kind === served.kind).slice(0, 1)
      : (given ?? (fallback === undefined ? [] : [{ group: GATEWAY_GROUP, kind: fallback }]));
  return {
    gateway: gw,
    gatewayId,
    spec,
    status: {
      name: spec.name,
      port: spec.port,
      protocol: spec.protocol,
      hostname: spec.hostname ?? null,
      supportedKinds: kinds,
      attachedRoutes: 0,
      conditions: [],
    },
    served: false,
    attached: new Set(),
    passthrough: [],
    out: {
      name: `${gatewayId}/${spec.name}`,
      gateway: gatewayId,
      ...(spec.hostname !== undefined && { hostname: spec.hostname }),
      entries: [],
      actions: [],
    },
    pending: [],
  };
}

type Termination =
  | { ok: true; certificate: ServedCertificate; warning?: string }
  | { ok: false; accepted: boolean; reason: string; message: string; pending?: boolean };

/**
 * The TLS settings of an HTTPS listener, or of a TLS listener not in Passthrough mode: Terminate
 * with a usable certificate, or why not. The certificate comes from its certificateRefs or, when
 * it has none, from an AcmeCertificatePolicy.
 */
function terminate(spec: ListenerSpec, gw: ResourceOf<"Gateway">, certificates: CertificateIndex): Termination {
  const gatewayNs = gw.metadata.namespace;
  const tls = spec.tls;
  if (tls?.mode === "Passthrough") {
    const message = "an HTTPS listener terminates TLS; for passthrough use protocol TLS";
    return { ok: false, accepted: false, reason: "InvalidCertificateRef", message };
  }
  if (tls === undefined && spec.protocol === "TLS") {
    // The Gateway API requires tls on a TLS listener and gives it no default mode.
    const message = "a TLS listener needs tls: mode Passthrough, or mode Terminate with certificateRefs (or an AcmeCertificatePolicy)";
    return { ok: false, accepted: true, reason: "InvalidCertificateRef", message };
  }
  const ref = tls?.certificateRefs[0];
  if (ref === undefined) {
    const fromAcme = certificates.acme?.resolve(gw, spec);
    if (fromAcme !== undefined) return fromAcme;
    const which = spec.protocol === "TLS" ? "a TLS listener in tls.mode Terminate" : "an HTTPS listener";
    const message = `${which} needs tls.certificateRefs (or an AcmeCertificatePolicy)`;
    return { ok: false, accepted: true, reason: "InvalidCertificateRef", message };
  }
  // One certificate per server name (uWebSockets.js, and the SNI front alike): the first reference is used.
  const resolved = certificates.resolve(ref, gatewayNs);
  if (!resolved.ok) return { ok: false, accepted: true, reason: resolved.reason, message: resolved.message };
  return resolved;
}

/** One port serves one protocol, except that TLS listeners (Passthrough and Terminate alike) and
 * HTTPS may share one by SNI. */
function shareable(a: string, b: string): boolean {
  return a === b || (a === "HTTPS" && b === "TLS") || (a === "TLS" && b === "HTTPS");
}

function isTrue(conditions: readonly Condition[], type: string): boolean {
  return conditions.some((c) => c.type === type && c.status === "True");
}

function gatewayConditions(
  gw: ResourceOf<"Gateway">,
  listeners: readonly ListenerStatus[],
  classNames: ReadonlySet<string>,
): Condition[] {
  const gen = gw.metadata.generation;
  const accepted = listeners.filter((l) => isTrue(l.conditions, "Accepted")).length;
  const programmed = listeners.filter((l) => isTrue(l.conditions, "Programmed")).length;
  // Standalone mode serves a Gateway whatever its class; a class missing from the folder is
  // most likely a typo, so it is said, not enforced.
  const className = gw.spec.gatewayClassName;
  const classNote =
    className === ""
      ? "; no gatewayClassName (served anyway)"
      : classNames.has(className)
        ? ""
        : `; GatewayClass ${className} is not in the configuration (served anyway)`;
  const acceptedCondition =
    accepted === listeners.length
      ? condition("Accepted", true, "Accepted", `gateway accepted${classNote}`, gen)
      : condition(
          "Accepted",
          accepted > 0,
          "ListenersNotValid",
          `${listeners.length - accepted} of ${listeners.length} listeners are not valid${classNote}`,
          gen,
        );
  return [
    acceptedCondition,
    programmed > 0
      ? condition("Programmed", true, "Programmed", `${programmed} listener(s) programmed`, gen)
      : condition("Programmed", false, "Invalid", "no listener can be served", gen),
  ];
}
