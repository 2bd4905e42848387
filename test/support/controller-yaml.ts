// Controller tests start from YAML as a user writes it, parsed by the real file provider's rules.
import { type LoadResult, parseFile } from "../../controller/provider/file.js";
import type { StatusReport } from "../../controller/status/report.js";
import { translate } from "../../controller/translate/index.js";
import { type HttpListener, type Snapshot, validateSnapshot } from "../../gateway/snapshot.js";

export function fromYaml(text: string, file = "test.yaml"): LoadResult {
  const result: LoadResult = { resources: [], errors: [] };
  parseFile(file, text, result);
  return result;
}

/** Translates YAML and validates the Snapshot as the data plane would; fails on load errors. */
export function run(text: string): { snapshot: Snapshot; status: StatusReport } {
  const { resources, errors } = fromYaml(text);
  if (errors.length > 0) throw new Error(`load errors: ${JSON.stringify(errors)}`);
  const t = translate(resources, { version: 1 });
  const v = validateSnapshot(t.snapshot);
  if (!v.ok) throw new Error(`Snapshot refused: ${v.errors.join("; ")}`);
  return { snapshot: v.snapshot, status: t.status };
}

export function listener(s: Snapshot, name: string): HttpListener {
  for (const p of s.ports) for (const l of p.listeners) if (l.name === name) return l;
  throw new Error(
    `no listener ${name} in ${s.ports.flatMap((p) => p.listeners.map((l) => l.name)).join(", ")}`,
  );
}

/** The routes of a listener's entries in order, as "namespace/name" (plus the rule when asked). */
export function entryRoutes(l: HttpListener, withRule = false): string[] {
  return l.entries.map((e) => {
    const a = l.actions[e.action];
    return withRule ? `${a?.route}#${a?.rule}` : (a?.route ?? "?");
  });
}

export function routeCondition(status: StatusReport, name: string, type: string, parent = 0) {
  return status.httpRoutes
    .find((r) => r.name === name)
    ?.parents[parent]?.conditions.find((c) => c.type === type);
}

export function listenerCondition(status: StatusReport, gateway: string, name: string, type: string) {
  return status.gateways
    .find((g) => `${g.namespace}/${g.name}` === gateway)
    ?.listeners.find((l) => l.name === name)
    ?.conditions.find((c) => c.type === type);
}

export function gateway(
  name: string,
  listeners: string,
  opts: { namespace?: string; created?: string; className?: string } = {},
): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${opts.namespace ?? "default"}${opts.created ? `, creationTimestamp: "${opts.created}"` : ""}}
spec:
  gatewayClassName: ${opts.className ?? "meshgate"}
  listeners: ${listeners}
`;
}

/** A resource's spec lines, indented under `spec:`. */
function indented(spec: string): string {
  return spec
    .trim()
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

/** A meshgate.io/v1alpha1 policy of `kind` in namespace default. */
export function meshgatePolicy(kind: string, name: string, spec: string, created?: string): string {
  return `---
apiVersion: meshgate.io/v1alpha1
kind: ${kind}
metadata: {name: ${name}, namespace: default${created ? `, creationTimestamp: "${created}"` : ""}}
spec:
${indented(spec)}
`;
}

export function httpRoute(
  name: string,
  spec: string,
  opts: { namespace?: string; created?: string } = {},
): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${opts.namespace ?? "default"}${opts.created ? `, creationTimestamp: "${opts.created}"` : ""}}
spec:
${indented(spec)}
`;
}

export function service(
  name: string,
  ports: string,
  opts: { namespace?: string; extra?: string } = {},
): string {
  return `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${opts.namespace ?? "default"}}
spec: {ports: ${ports}${opts.extra ? `, ${opts.extra}` : ""}}
`;
}

export function endpointSlice(
  name: string,
  serviceName: string,
  ports: string,
  endpoints: string,
  namespace = "default",
): string {
  return `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}, namespace: ${namespace}, labels: {kubernetes.io/service-name: ${serviceName}}}
addressType: IPv4
ports: ${ports}
endpoints: ${endpoints}
`;
}

export const GATEWAY_CLASS = `---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: meshgate}
spec: {controllerName: meshgate.io/gateway-controller}
`;

/** A kubernetes.io/tls Secret holding these PEMs (base64, as Kubernetes stores them). */
export function tlsSecret(name: string, certPem: string, keyPem: string, opts: { namespace?: string; type?: string } = {}): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return `---
apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: ${opts.namespace ?? "default"}}
type: ${opts.type ?? "kubernetes.io/tls"}
data:
  tls.crt: ${b64(certPem)}
  tls.key: ${b64(keyPem)}
`;
}
