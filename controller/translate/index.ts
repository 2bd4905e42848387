// Gateway API resources -> Snapshot + status. Pure and deterministic: the same resources give
// the same Snapshot (but for its version) and the same conditions.

import type { z } from "zod";
import type {
  Backend,
  ClusterInput,
  Filter,
  HttpListener,
  PortInput,
  RouteAction,
  RouteEntry,
  RouteMatch,
  SnapshotInput,
} from "../../gateway/snapshot.js";
import {
  gatewaySpecSchema,
  httpRouteSpecSchema,
  type LoadError,
  objectName,
  type Resource,
  type routeFilterSchema,
} from "../resources.js";
import {
  CONTROLLER_NAME,
  type Condition,
  condition,
  type GatewayStatus,
  type ListenerStatus,
  type PolicyStatus,
  type RouteParentStatus,
  type RouteStatus,
  type StatusReport,
} from "../status/report.js";
import { BackendIndex } from "./backends.js";
import {
  type BackendPolicy,
  type ClientPolicy,
  parseBackendPolicy,
  parseClientPolicy,
  targets,
} from "./policies.js";
import { intersectHostname, type LabelSelector, parseDuration, selectorMatches } from "./util.js";

export interface Translation {
  snapshot: SnapshotInput;
  status: StatusReport;
}

type GatewaySpec = z.infer<typeof gatewaySpecSchema>;
type ListenerSpec = GatewaySpec["listeners"][number];
type RouteSpec = z.infer<typeof httpRouteSpecSchema>;
type FilterSpec = z.infer<typeof routeFilterSchema>;

interface ListenerState {
  gateway: Resource;
  spec: ListenerSpec;
  key: string;
  status: ListenerStatus;
  /** Served when the listener is valid and not conflicted. */
  served: boolean;
  out: HttpListener;
  /** Entries with their sort keys, sorted at the end. */
  pending: { entry: RouteEntry; sort: SortKey }[];
}

interface SortKey {
  pathType: number;
  pathLength: number;
  method: number;
  headers: number;
  query: number;
  created: string;
  name: string;
  rule: number;
  match: number;
}

const SUPPORTED_FILTERS = new Set([
  "RequestHeaderModifier",
  "ResponseHeaderModifier",
  "RequestRedirect",
  "URLRewrite",
]);

export function translate(
  resources: Resource[],
  opts: { version: number; loadErrors?: LoadError[] },
): Translation {
  const gen = (r: Resource) => r.metadata.generation ?? 1;
  const byCreation = (a: Resource, b: Resource) =>
    created(a).localeCompare(created(b)) || objectName(a).localeCompare(objectName(b));
  const of = (kind: string) => resources.filter((r) => r.kind === kind).sort(byCreation);

  const namespaces = new Map<string, Record<string, string>>();
  for (const ns of of("Namespace")) namespaces.set(ns.metadata.name, { ...(ns.metadata.labels ?? {}) });
  const nsLabels = (ns: string) => ({ ...(namespaces.get(ns) ?? {}), "kubernetes.io/metadata.name": ns });
  const backends = new BackendIndex(resources);
  const status: StatusReport = {
    gatewayClasses: [],
    gateways: [],
    routes: [],
    policies: [],
    loadErrors: opts.loadErrors ?? [],
  };

  for (const gc of of("GatewayClass")) {
    status.gatewayClasses.push({
      name: gc.metadata.name,
      conditions: [
        condition("Accepted", true, "Accepted", "meshgate serves every Gateway of this class", gen(gc)),
      ],
    });
  }

  // Policies first: they shape clusters and ports.
  const backendPolicies: BackendPolicy[] = [];
  const clientPolicies: ClientPolicy[] = [];
  for (const p of [...of("BackendTrafficPolicy"), ...of("ClientTrafficPolicy")]) {
    const parsed = p.kind === "BackendTrafficPolicy" ? parseBackendPolicy(p) : parseClientPolicy(p);
    const ok = typeof parsed !== "string";
    const ps: PolicyStatus = {
      kind: p.kind,
      namespace: p.metadata.namespace,
      name: p.metadata.name,
      conditions: [
        condition("Accepted", ok, ok ? "Accepted" : "Invalid", ok ? "policy accepted" : parsed, gen(p)),
      ],
    };
    status.policies.push(ps);
    if (!ok) continue;
    if (p.kind === "BackendTrafficPolicy") backendPolicies.push(parsed as BackendPolicy);
    else clientPolicies.push(parsed as ClientPolicy);
  }

  // Gateways and listeners, merged by port.
  const listeners: ListenerState[] = [];
  const ports = new Map<number, PortInput & { listeners: HttpListener[] }>();
  const hostsOnPort = new Set<string>();
  for (const gw of of("Gateway")) {
    const parsed = gatewaySpecSchema.safeParse(gw.body["spec"]);
    const gs: GatewayStatus = {
      namespace: gw.metadata.namespace,
      name: gw.metadata.name,
      className: parsed.success ? (parsed.data.gatewayClassName ?? "") : "",
      conditions: [],
      listeners: [],
    };
    status.gateways.push(gs);
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `spec.${i.path.join(".")}: ${i.message}`).join("; ");
      gs.conditions.push(
        condition("Accepted", false, "Invalid", message, gen(gw)),
        condition("Programmed", false, "Invalid", message, gen(gw)),
      );
      continue;
    }
    const gwName = `${gw.metadata.namespace}/${gw.metadata.name}`;
    const clientPolicy = clientPolicies.find((p) =>
      targets(p, "Gateway", gw.metadata.namespace, gw.metadata.name),
    );
    for (const l of parsed.data.listeners) {
      const ls: ListenerStatus = {
        name: l.name,
        port: l.port,
        protocol: l.protocol,
        hostname: l.hostname ?? null,
        attachedRoutes: 0,
        conditions: [],
      };
      gs.listeners.push(ls);
      const state: ListenerState = {
        gateway: gw,
        spec: l,
        key: `${gwName}/${l.name}`,
        status: ls,
        served: false,
        out: {
          name: `${gwName}/${l.name}`,
          gateway: gwName,
          entries: [],
          actions: [],
          ...(l.hostname !== undefined && { hostname: l.hostname }),
        },
        pending: [],
      };
      listeners.push(state);
      const g = gen(gw);
      if (l.protocol !== "HTTP") {
        const msg = `protocol ${l.protocol} is not supported yet (HTTP only)`;
        ls.conditions.push(
          condition("Accepted", false, "UnsupportedProtocol", msg, g),
          condition("Programmed", false, "Invalid", msg, g),
        );
        continue;
      }
      const kinds = l.allowedRoutes?.kinds;
      const badKinds = (kinds ?? []).filter(
        (k) =>
          k.kind !== "HTTPRoute" || (k.group ?? "gateway.networking.k8s.io") !== "gateway.networking.k8s.io",
      );
      const hostKey = `${l.port}|${(l.hostname ?? "").toLowerCase()}`;
      if (hostsOnPort.has(hostKey)) {
        const msg = `another listener on port ${l.port} already serves hostname ${l.hostname ?? "*"}`;
        ls.conditions.push(
          condition("Accepted", false, "HostnameConflict", msg, g),
          condition("Conflicted", true, "HostnameConflict", msg, g),
          condition("Programmed", false, "Invalid", msg, g),
        );
        continue;
      }
      hostsOnPort.add(hostKey);
      ls.conditions.push(condition("Accepted", true, "Accepted", "listener accepted", g));
      ls.conditions.push(
        badKinds.length > 0
          ? condition(
              "ResolvedRefs",
              false,
              "InvalidRouteKinds",
              `route kinds not supported: ${badKinds.map((k) => k.kind).join(", ")}`,
              g,
            )
          : condition("ResolvedRefs", true, "ResolvedRefs", "references resolved", g),
      );
      ls.conditions.push(condition("Conflicted", false, "NoConflicts", "no conflicts", g));
      ls.conditions.push(condition("Programmed", true, "Programmed", `serving on port ${l.port}`, g));
      state.served = true;
      let port = ports.get(l.port);
      if (port === undefined) {
        port = { port: l.port, protocol: "HTTP", listeners: [] };
        if (clientPolicy !== undefined) port.client = clientPolicy.client;
        ports.set(l.port, port);
      }
      port.listeners.push(state.out);
    }
    const served = gs.listeners.some((l) =>
      l.conditions.some((c) => c.type === "Programmed" && c.status === "True"),
    );
    const allValid = gs.listeners.every((l) =>
      l.conditions.some((c) => c.type === "Accepted" && c.status === "True"),
    );
    gs.conditions.push(
      condition(
        "Accepted",
        true,
        allValid ? "Accepted" : "ListenersNotValid",
        allValid ? "gateway accepted" : "one or more listeners are not valid",
        gen(gw),
      ),
      condition(
        "Programmed",
        served,
        served ? "Programmed" : "Invalid",
        served ? "gateway programmed" : "no listener can be served",
        gen(gw),
      ),
    );
  }

  // HTTPRoutes.
  const clusters = new Map<string, ClusterInput>();
  const routes = of("HTTPRoute");
  for (const route of routes) {
    const rs: RouteStatus = {
      kind: "HTTPRoute",
      namespace: route.metadata.namespace,
      name: route.metadata.name,
      hostnames: [],
      parents: [],
    };
    status.routes.push(rs);
    const parsed = httpRouteSpecSchema.safeParse(route.body["spec"] ?? {});
    const g = gen(route);
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `spec.${i.path.join(".")}: ${i.message}`).join("; ");
      rs.parents.push({
        parentRef: { namespace: route.metadata.namespace, name: "-" },
        controllerName: CONTROLLER_NAME,
        conditions: [condition("Accepted", false, "UnsupportedValue", message, g)],
      });
      continue;
    }
    const spec = parsed.data;
    rs.hostnames = spec.hostnames ?? [];
    const policy =
      backendPolicies.find((p) => targets(p, "HTTPRoute", route.metadata.namespace, route.metadata.name)) ??
      undefined;
    const compiled = compileRules(route, spec, backends, clusters, policy, backendPolicies);
    for (const ref of spec.parentRefs ?? []) {
      const ps = attach(route, spec, ref, listeners, nsLabels, compiled, g);
      rs.parents.push(ps);
    }
  }

  // Order entries by the spec's precedence and emit.
  for (const l of listeners) {
    l.pending.sort((a, b) => compareKeys(a.sort, b.sort));
    l.out.entries = l.pending.map((p) => p.entry);
  }
  const portList = [...ports.values()].sort((a, b) => a.port - b.port);
  for (const p of portList)
    p.listeners.sort(
      (a, b) =>
        hostnameRank(a.hostname) - hostnameRank(b.hostname) ||
        (b.hostname?.length ?? 0) - (a.hostname?.length ?? 0),
    );
  return {
    snapshot: { version: opts.version, ports: portList, clusters: [...clusters.values()] },
    status,
  };
}

function created(r: Resource): string {
  const c = r.metadata.creationTimestamp;
  if (c === undefined) return "";
  return c instanceof Date ? c.toISOString() : c;
}

/** Exact hostnames first, then wildcards, then listeners without a hostname. */
function hostnameRank(h: string | undefined): number {
  if (h === undefined || h === "*") return 2;
  return h.startsWith("*.") ? 1 : 0;
}

function compareKeys(a: SortKey, b: SortKey): number {
  return (
    a.pathType - b.pathType ||
    b.pathLength - a.pathLength ||
    b.method - a.method ||
    b.headers - a.headers ||
    b.query - a.query ||
    a.created.localeCompare(b.created) ||
    a.name.localeCompare(b.name) ||
    a.rule - b.rule ||
    a.match - b.match
  );
}

interface CompiledRule {
  action: RouteAction;
  matches: RouteMatch[];
  index: number;
}

interface CompiledRoute {
  rules: CompiledRule[];
  /** First unresolved reference, for ResolvedRefs. */
  unresolved?: { reason: string; message: string };
  unsupported?: string;
}

function compileRules(
  route: Resource,
  spec: RouteSpec,
  backends: BackendIndex,
  clusters: Map<string, ClusterInput>,
  routePolicy: BackendPolicy | undefined,
  allPolicies: BackendPolicy[],
): CompiledRoute {
  const ns = route.metadata.namespace;
  const out: CompiledRoute = { rules: [] };
  (spec.rules ?? [{}]).forEach((rule, index) => {
    const ruleName = rule.name ?? String(index);
    const action: RouteAction = {
      route: `${ns}/${route.metadata.name}`,
      rule: ruleName,
      filters: [],
      backends: [],
      timeouts: {},
    };
    const problems: string[] = [];
    action.filters = convertFilters(rule.filters ?? [], problems);
    for (const key of ["request", "backendRequest"] as const) {
      const v = rule.timeouts?.[key];
      if (v === undefined) continue;
      const msValue = parseDuration(v);
      if (msValue === undefined) problems.push(`timeouts.${key} "${v}" is not a Gateway API duration`);
      else if (key === "request") action.timeouts = { ...action.timeouts, requestMs: msValue };
      else action.timeouts = { ...action.timeouts, backendRequestMs: msValue };
    }
    for (const ref of rule.backendRefs ?? []) {
      const weight = ref.weight ?? 1;
      const backendFilters = convertFilters(ref.filters ?? [], problems);
      const resolution = backends.resolve(ref, "HTTPRoute", ns);
      if (!resolution.ok) {
        out.unresolved ??= { reason: resolution.reason, message: resolution.message };
        action.backends.push({ cluster: null, weight, filters: backendFilters } as Backend);
        continue;
      }
      // A policy on the route wins; otherwise one on a Gateway the route attaches to is applied
      // at attach time is not possible per cluster, so gateway-level policies apply by name here.
      const policy = routePolicy ?? gatewayPolicyFor(spec, ns, allPolicies);
      const base = `${resolution.namespace}/${resolution.service}:${resolution.port}`;
      const name =
        policy === undefined
          ? base
          : `${base}@${policy.resource.metadata.namespace}/${policy.resource.metadata.name}`;
      if (!clusters.has(name))
        clusters.set(name, { name, endpoints: resolution.endpoints, ...(policy?.overrides ?? {}) });
      action.backends.push({ cluster: name, weight, filters: backendFilters } as Backend);
    }
    if (problems.length > 0) {
      out.unsupported ??= problems.join("; ");
      action.filters = [];
      action.backends = [{ cluster: null, weight: 1, filters: [] } as Backend];
    }
    const matches: RouteMatch[] = (rule.matches?.length ? rule.matches : [{}]).map((m) => ({
      path: { type: m.path?.type ?? "PathPrefix", value: m.path?.value ?? "/" },
      ...(m.method !== undefined && { method: m.method }),
      headers: (m.headers ?? []).map((h) => ({
        type: h.type ?? "Exact",
        name: h.name.toLowerCase(),
        value: h.value,
      })),
      queryParams: (m.queryParams ?? []).map((q) => ({
        type: q.type ?? "Exact",
        name: q.name,
        value: q.value,
      })),
    }));
    out.rules.push({ action, matches, index });
  });
  return out;
}

function gatewayPolicyFor(
  spec: RouteSpec,
  routeNs: string,
  policies: BackendPolicy[],
): BackendPolicy | undefined {
  for (const ref of spec.parentRefs ?? []) {
    const ns = ref.namespace ?? routeNs;
    const found = policies.find((p) => targets(p, "Gateway", ns, ref.name));
    if (found !== undefined) return found;
  }
  return undefined;
}

function convertFilters(filters: FilterSpec[], problems: string[]): Filter[] {
  const out: Filter[] = [];
  for (const f of filters) {
    if (!SUPPORTED_FILTERS.has(f.type)) {
      problems.push(`filter ${f.type} is not supported`);
      continue;
    }
    const mod = (m: FilterSpec["requestHeaderModifier"]) => ({
      set: m?.set ?? [],
      add: m?.add ?? [],
      remove: m?.remove ?? [],
    });
    const path = (p: NonNullable<FilterSpec["urlRewrite"]>["path"]) => {
      if (p === undefined) return undefined;
      if (p.type === "ReplaceFullPath")
        return { type: "ReplaceFullPath" as const, replaceFullPath: p.replaceFullPath ?? "/" };
      return { type: "ReplacePrefixMatch" as const, replacePrefixMatch: p.replacePrefixMatch ?? "/" };
    };
    switch (f.type) {
      case "RequestHeaderModifier":
        out.push({ type: "RequestHeaderModifier", requestHeaderModifier: mod(f.requestHeaderModifier) });
        break;
      case "ResponseHeaderModifier":
        out.push({ type: "ResponseHeaderModifier", responseHeaderModifier: mod(f.responseHeaderModifier) });
        break;
      case "RequestRedirect": {
        const r = f.requestRedirect ?? {};
        const code = r.statusCode ?? 302;
        if (![301, 302, 303, 307, 308].includes(code)) {
          problems.push(`redirect statusCode ${code} is not supported`);
          break;
        }
        if (r.scheme !== undefined && r.scheme !== "http" && r.scheme !== "https") {
          problems.push(`redirect scheme ${r.scheme} is not supported`);
          break;
        }
        const p = path(r.path);
        out.push({
          type: "RequestRedirect",
          requestRedirect: {
            ...(r.scheme !== undefined && { scheme: r.scheme as "http" | "https" }),
            ...(r.hostname !== undefined && { hostname: r.hostname }),
            ...(r.port !== undefined && { port: r.port }),
            ...(p !== undefined && { path: p }),
            statusCode: code as 301 | 302 | 303 | 307 | 308,
          },
        });
        break;
      }
      case "URLRewrite": {
        const p = path(f.urlRewrite?.path);
        out.push({
          type: "URLRewrite",
          urlRewrite: {
            ...(f.urlRewrite?.hostname !== undefined && { hostname: f.urlRewrite.hostname }),
            ...(p !== undefined && { path: p }),
          },
        });
        break;
      }
    }
  }
  return out;
}

function attach(
  route: Resource,
  spec: RouteSpec,
  ref: NonNullable<RouteSpec["parentRefs"]>[number],
  listeners: ListenerState[],
  nsLabels: (ns: string) => Record<string, string>,
  compiled: CompiledRoute,
  g: number,
): RouteParentStatus {
  const routeNs = route.metadata.namespace;
  const ns = ref.namespace ?? routeNs;
  const parentRef = {
    namespace: ns,
    name: ref.name,
    ...(ref.sectionName !== undefined && { sectionName: ref.sectionName }),
    ...(ref.port !== undefined && { port: ref.port }),
  };
  const ps: RouteParentStatus = { parentRef, controllerName: CONTROLLER_NAME, conditions: [] };
  const reject = (reason: string, message: string) => {
    ps.conditions.push(condition("Accepted", false, reason, message, g));
    ps.conditions.push(resolvedRefs(compiled, g));
    return ps;
  };
  if (
    (ref.kind ?? "Gateway") !== "Gateway" ||
    (ref.group ?? "gateway.networking.k8s.io") !== "gateway.networking.k8s.io"
  ) {
    return reject("NoMatchingParent", `parent kind ${ref.kind} is not supported`);
  }
  const candidates = listeners.filter(
    (l) =>
      l.gateway.metadata.namespace === ns &&
      l.gateway.metadata.name === ref.name &&
      (ref.sectionName === undefined || l.spec.name === ref.sectionName) &&
      (ref.port === undefined || l.spec.port === ref.port),
  );
  if (candidates.length === 0)
    return reject("NoMatchingParent", `no listener of Gateway ${ns}/${ref.name} matches this parentRef`);
  const allowed = candidates.filter((l) => l.served && allows(l, routeNs, nsLabels));
  if (allowed.length === 0)
    return reject("NotAllowedByListeners", "no listener of the Gateway allows this route");
  const routeHosts = (spec.hostnames ?? []).map((h) => h.toLowerCase());
  let attached = 0;
  for (const l of allowed) {
    const listenerHost = l.spec.hostname?.toLowerCase();
    let hostnames: string[];
    if (routeHosts.length === 0) {
      hostnames = [];
    } else {
      hostnames = [
        ...new Set(
          routeHosts
            .map((h) => intersectHostname(listenerHost, h))
            .filter((h): h is string => h !== undefined),
        ),
      ];
      if (hostnames.length === 0) continue;
    }
    attached++;
    l.status.attachedRoutes++;
    for (const rule of compiled.rules) {
      const actionIndex = l.out.actions.length;
      l.out.actions.push(rule.action);
      rule.matches.forEach((m, mi) => {
        l.pending.push({
          entry: { hostnames, match: m, action: actionIndex },
          sort: {
            pathType: m.path.type === "Exact" ? 0 : m.path.type === "PathPrefix" ? 1 : 2,
            pathLength: m.path.type === "RegularExpression" ? 0 : (m.path.value ?? "/").length,
            method: m.method !== undefined ? 1 : 0,
            headers: m.headers?.length ?? 0,
            query: m.queryParams?.length ?? 0,
            created: created(route),
            name: `${route.metadata.namespace}/${route.metadata.name}`,
            rule: rule.index,
            match: mi,
          },
        });
      });
    }
  }
  if (attached === 0)
    return reject("NoMatchingListenerHostname", "no listener hostname intersects the route's hostnames");
  ps.conditions.push(
    compiled.unsupported !== undefined
      ? condition("Accepted", false, "UnsupportedValue", compiled.unsupported, g)
      : condition("Accepted", true, "Accepted", `attached to ${attached} listener(s)`, g),
  );
  ps.conditions.push(resolvedRefs(compiled, g));
  return ps;
}

function resolvedRefs(compiled: CompiledRoute, g: number): Condition {
  const u = compiled.unresolved;
  return u === undefined
    ? condition("ResolvedRefs", true, "ResolvedRefs", "all references resolved", g)
    : condition("ResolvedRefs", false, u.reason, u.message, g);
}

function allows(
  l: ListenerState,
  routeNs: string,
  nsLabels: (ns: string) => Record<string, string>,
): boolean {
  const kinds = l.spec.allowedRoutes?.kinds;
  if (
    kinds !== undefined &&
    kinds.length > 0 &&
    !kinds.some(
      (k) =>
        k.kind === "HTTPRoute" && (k.group ?? "gateway.networking.k8s.io") === "gateway.networking.k8s.io",
    )
  ) {
    return false;
  }
  const from = l.spec.allowedRoutes?.namespaces?.from ?? "Same";
  if (from === "All") return true;
  if (from === "Same") return routeNs === l.gateway.metadata.namespace;
  const selector = l.spec.allowedRoutes?.namespaces?.selector as LabelSelector | undefined;
  return selector !== undefined && selectorMatches(selector, nsLabels(routeNs));
}
