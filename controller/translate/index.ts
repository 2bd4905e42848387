// Gateway API resources -> the data plane's Snapshot and the status conditions. Pure and
// deterministic: the same resources give the same Snapshot (but for its version) and the same
// status, whatever order they were read in.
import type { RateLimitConfig, SnapshotInput } from "../../gateway/snapshot.js";
import { type LoadError, ofKind, type Resource, type ResourceOf } from "../resources/index.js";
import { condition } from "../status/conditions.js";
import type { GatewayClassStatus, RouteStatus, StatusReport } from "../status/report.js";
import { AcmeCertificates, type AcmeInputs, type AcmeRequest } from "./acme-certificates.js";
import { type AttachableRoute, type AttachContext, attachRoute } from "./attach.js";
import { BackendIndex } from "./backends.js";
import { ClusterRegistry } from "./clusters.js";
import { CertificateIndex, type ServedCertificate } from "./certificates.js";
import { buildListeners, type ListenerState } from "./listeners.js";
import { compareAge, compareText } from "./order.js";
import {
  type BackendTrafficSettings,
  type ClusterSettings,
  type PolicyTarget,
  parseAcmeCertificatePolicy,
  parseBackendTrafficPolicy,
  parseClientTrafficPolicy,
  parseMirrorComparisonPolicy,
  parseRateLimitPolicy,
  type RateLimitSettings,
} from "./policies.js";
import { type AttachedPolicy, PolicyAttachments } from "./policy-targets.js";
import { buildPorts } from "./ports.js";
import { compileTlsRoute } from "./tls-routes.js";
import { comparePrecedence, precedenceKey } from "./precedence.js";
import { type CompiledRoute, type CompiledRule, compileRoute } from "./rules.js";

export interface Translation {
  snapshot: SnapshotInput;
  status: StatusReport;
  /** The certificates served, by Secret: the next translation's last good ones. */
  certificates: Map<string, ServedCertificate>;
  /** The certificates the ACME manager should look after, for the listeners that want them. */
  acmeRequests: AcmeRequest[];
}

export interface TranslateOptions {
  version: number;
  /** What the provider could not read, carried into the status report. */
  loadErrors?: LoadError[];
  /** Certificates served by the previous translation, kept when their Secret turns bad. */
  lastGoodCertificates?: ReadonlyMap<string, ServedCertificate>;
  /** What the ACME manager holds and the HTTP-01 answers to serve; absent where none runs. */
  acme?: AcmeInputs;
  /** Epoch ms for certificate validity; defaults to the clock. */
  now?: number;
}

const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

export function translate(resources: readonly Resource[], opts: TranslateOptions): Translation {
  const sorted = [...resources].sort(compareAge);
  const classes = ofKind(sorted, "GatewayClass");
  const gateways = ofKind(sorted, "Gateway");
  const routes = ofKind(sorted, "HTTPRoute");
  const tlsRouteResources = ofKind(sorted, "TLSRoute");
  const backends = new BackendIndex(sorted);
  const now = opts.now ?? Date.now();
  const exists = targetExists(gateways, routes);
  const acmePolicies = new PolicyAttachments(
    ofKind(sorted, "AcmeCertificatePolicy"),
    parseAcmeCertificatePolicy,
    exists,
  );
  const acme = new AcmeCertificates(acmePolicies, opts.acme, now);
  const certificates = new CertificateIndex(
    sorted,
    (fromNs, toNs, toName) => backends.permitted("Gateway", fromNs, "", "Secret", toNs, toName),
    opts.lastGoodCertificates ?? new Map(),
    now,
    acme,
  );
  const { listeners, statuses: gatewayStatuses } = buildListeners(
    gateways,
    new Set(classes.map((c) => c.metadata.name)),
    certificates,
  );
  if (!listeners.some((l) => l.served && l.spec.protocol === "HTTP")) acme.noteNoHttpListener();
  const backendPolicies = new PolicyAttachments(
    ofKind(sorted, "BackendTrafficPolicy"),
    parseBackendTrafficPolicy,
    exists,
  );
  const clientPolicies = new PolicyAttachments(
    ofKind(sorted, "ClientTrafficPolicy"),
    parseClientTrafficPolicy,
    exists,
  );
  const rateLimitPolicies = new PolicyAttachments(
    ofKind(sorted, "RateLimitPolicy"),
    parseRateLimitPolicy,
    exists,
  );
  const comparisonPolicies = new PolicyAttachments(
    ofKind(sorted, "MirrorComparisonPolicy"),
    parseMirrorComparisonPolicy,
    exists,
  );

  const namespaces = new Map(ofKind(sorted, "Namespace").map((n) => [n.metadata.name, n.metadata.labels]));
  const namespaceLabels = (ns: string) => ({ ...namespaces.get(ns), [NAMESPACE_NAME_LABEL]: ns });
  const clusters = new ClusterRegistry();

  const place = (route: CompiledRoute, l: ListenerState, hostnames: string[]) => {
    for (const rule of route.rules) {
      const policy = mostSpecificPolicy(backendPolicies, route, rule, l);
      const routeAction = clusters.action(route, rule, clusterShaping(policy));
      // Only the rules the policy reaches: the fault is the action's, not its clusters'.
      const fault = policy?.settings.fault;
      if (fault !== undefined && policy !== undefined) routeAction.fault = { policy: policy.id, ...fault };
      const limits = mostSpecificPolicy(rateLimitPolicies, route, rule, l);
      if (limits !== undefined) routeAction.rateLimits = rateLimitsOf(limits, route.id);
      const comparison = mostSpecificPolicy(comparisonPolicies, route, rule, l);
      if (comparison !== undefined && routeAction.mirrors.length > 0) {
        routeAction.mirrorCompare = { policy: comparison.id, ...comparison.settings };
      }
      const action = l.out.actions.push(routeAction) - 1;
      rule.matches.forEach((match, i) => {
        l.pending.push({
          entry: { hostnames, match, action },
          key: precedenceKey(match, { created: route.created, name: route.id }, rule.index, i),
        });
      });
    }
  };
  /** Attaches a compiled route to the listeners its parentRefs select: its status entry. */
  const routeStatus = (route: AttachableRoute, place: AttachContext["place"]): RouteStatus => ({
    namespace: route.resource.metadata.namespace,
    name: route.id.slice(route.id.indexOf("/") + 1),
    hostnames: route.resource.spec.hostnames,
    parents: attachRoute(route, { listeners, namespaceLabels, place }),
  });
  const httpRoutes = routes.map((resource) => {
    const route = compileRoute(resource, backends);
    return routeStatus(route, (l, hostnames) => place(route, l, hostnames));
  });
  const tlsRoutes = tlsRouteResources.map((resource) => {
    const route = compileTlsRoute(resource, backends);
    return routeStatus(route, (l, hostnames) =>
      l.passthrough.push({
        name: route.id,
        // A route without hostnames of its own serves what the listener does.
        hostnames: hostnames.length > 0 ? hostnames : l.spec.hostname === undefined ? [] : [l.spec.hostname],
        backends: route.backends,
      }),
    );
  });

  for (const l of listeners) {
    l.status.attachedRoutes = l.attached.size;
    l.out.entries = l.pending.sort((a, b) => comparePrecedence(a.key, b.key)).map((p) => p.entry);
  }
  const ports = buildPorts(
    listeners.filter((l) => l.served),
    clientPolicies,
  );
  const byName = (a: { namespace: string; name: string }, b: { namespace: string; name: string }) =>
    compareText(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`);
  const gatewayClasses: GatewayClassStatus[] = classes
    .map((c) => ({
      name: c.metadata.name,
      controllerName: c.spec.controllerName,
      // Standalone mode has no other controller to defer to: every class is meshgate's.
      conditions: [
        condition("Accepted", true, "Accepted", "meshgate serves this class", c.metadata.generation),
      ],
    }))
    .sort((a, b) => compareText(a.name, b.name));
  return {
    snapshot: { version: opts.version, ports, clusters: clusters.list(), acmeChallenges: sortedChallenges(opts.acme) },
    status: {
      gatewayClasses,
      gateways: gatewayStatuses.sort(byName),
      httpRoutes: httpRoutes.sort(byName),
      tlsRoutes: tlsRoutes.sort(byName),
      policies: [
        ...backendPolicies.statuses,
        ...clientPolicies.statuses,
        ...acmePolicies.statuses,
        ...rateLimitPolicies.statuses,
        ...comparisonPolicies.statuses,
      ].sort(
        (a, b) => compareText(a.kind, b.kind) || byName(a, b),
      ),
      loadErrors: opts.loadErrors ?? [],
    },
    certificates: certificates.valid,
    acmeRequests: acme.requests,
  };
}

function sortedChallenges(acme: AcmeInputs | undefined): Record<string, string> {
  const tokens = Object.keys(acme?.challenges ?? {}).sort(compareText);
  return Object.fromEntries(tokens.map((token) => [token, acme?.challenges[token] ?? ""]));
}

/** Does a policy target name an object (and section: a listener, a rule name) that exists? */
function targetExists(
  gateways: readonly ResourceOf<"Gateway">[],
  routes: readonly ResourceOf<"HTTPRoute">[],
) {
  return (ns: string, t: PolicyTarget): boolean => {
    const same = (r: { metadata: { namespace: string; name: string } }) =>
      r.metadata.namespace === ns && r.metadata.name === t.name;
    if (t.kind === "Gateway")
      return gateways.some(
        (g) =>
          same(g) && (t.sectionName === undefined || g.spec.listeners.some((l) => l.name === t.sectionName)),
      );
    return routes.some(
      (r) =>
        same(r) && (t.sectionName === undefined || r.spec.rules.some((rule) => rule.name === t.sectionName)),
    );
  };
}

/** A RateLimitPolicy's rules for one route: its own bucket unless the policy shares one. */
function rateLimitsOf(policy: AttachedPolicy<RateLimitSettings>, routeId: string): RateLimitConfig[] {
  const bucket = policy.settings.shared ? policy.id : `${policy.id}@${routeId}`;
  return policy.settings.rules.map((rule) => ({ ...rule, policy: policy.id, bucket }));
}

/** A BackendTrafficPolicy as its clusters see it: without the fault, which belongs to actions. */
function clusterShaping(
  policy: AttachedPolicy<BackendTrafficSettings> | undefined,
): AttachedPolicy<ClusterSettings> | undefined {
  if (policy?.settings.fault === undefined) return policy;
  const settings: BackendTrafficSettings = { ...policy.settings };
  delete settings.fault;
  return { ...policy, settings };
}

/** The most specific policy of a kind: route rule, route, Gateway listener, then Gateway. */
function mostSpecificPolicy<T>(
  policies: PolicyAttachments<T>,
  route: CompiledRoute,
  rule: CompiledRule,
  l: ListenerState,
): AttachedPolicy<T> | undefined {
  const { namespace, name } = route.resource.metadata;
  const ruleName = route.resource.spec.rules[rule.index]?.name;
  const gw = l.gateway.metadata;
  return (
    (ruleName === undefined ? undefined : policies.find("HTTPRoute", namespace, name, ruleName)) ??
    policies.find("HTTPRoute", namespace, name) ??
    policies.find("Gateway", gw.namespace, gw.name, l.spec.name) ??
    policies.find("Gateway", gw.namespace, gw.name)
  );
}
