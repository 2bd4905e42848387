// A large configuration for apply tests and the apply bench: `routes` HTTPRoutes on one Gateway,
// spread over many hostnames (exact and wildcard), with Exact, PathPrefix and a few
// RegularExpression paths, header and query matches, methods and several weighted backends,
// plus one steady route (`steady.test`, PathPrefix /) that traffic keeps using while the big
// set is applied. Deterministic for a given seed.
import { seededRandom } from "./seeded-random.js";

export interface BigConfigOptions {
  /** The Gateway listener's port. */
  port: number;
  /** Where every backend Service points (127.0.0.1). */
  backendPort: number;
  /** How many HTTPRoutes besides the steady one (each has one rule, one to three matches). */
  routes: number;
  seed?: number;
  /** Goes into every generated path, so that each generation's routes are new ones. */
  generation?: number;
  /**
   * Distinct exact hostnames the routes spread over (default 97); 0: routes name no exact
   * hostname (they serve any host), as many single-host setups are written.
   */
  hostnames?: number;
  /** Services the routes spread their backendRefs over. */
  services?: number;
}

interface Rnd {
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number;
}

export const STEADY_HOST = "steady.test";

/** Host and path of generated route `i`'s first match, to check it serves after an apply. */
export function probeOf(i: number, opts: Pick<BigConfigOptions, "generation" | "hostnames"> = {}): { host: string; path: string } {
  const hosts = opts.hostnames ?? DEFAULT_HOSTNAMES;
  return { host: hosts === 0 ? "any.big.test" : hostOf(i, hosts), path: `/r${i}-${opts.generation ?? 0}/probe` };
}

const DEFAULT_HOSTNAMES = 97;

function hostOf(i: number, hosts: number): string {
  return `h${i % hosts}.big.test`;
}

export function bigConfig(opts: BigConfigOptions): string {
  const next = seededRandom(opts.seed ?? 11);
  const rnd = { int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)) };
  const services = opts.services ?? 24;
  const docs: string[] = [
    `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: meshgate}
spec: {controllerName: meshgate.io/gateway-controller}`,
    `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  gatewayClassName: meshgate
  listeners:
  - {name: http, protocol: HTTP, port: ${opts.port}}`,
    `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: steady, namespace: default}
spec:
  parentRefs: [{name: edge}]
  hostnames: ["${STEADY_HOST}"]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: svc-0, port: 80}]`,
  ];
  for (let s = 0; s < services; s++) {
    docs.push(`apiVersion: v1
kind: Service
metadata: {name: svc-${s}, namespace: default}
spec:
  ports: [{name: http, port: 80, targetPort: 9999}]`);
    docs.push(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: svc-${s}-1
  namespace: default
  labels: {kubernetes.io/service-name: svc-${s}}
addressType: IPv4
ports: [{name: http, port: ${opts.backendPort}}]
endpoints:
- addresses: [127.0.0.1]
  conditions: {ready: true}`);
  }
  const shape = { services, generation: opts.generation ?? 0, hostnames: opts.hostnames ?? DEFAULT_HOSTNAMES };
  for (let i = 0; i < opts.routes; i++) docs.push(route(i, rnd, { ...shape, last: i === opts.routes - 1 }));
  return `${docs.join("\n---\n")}\n`;
}

function route(
  i: number,
  rnd: Rnd,
  shape: { services: number; generation: number; hostnames: number; last: boolean },
): string {
  const { services, generation } = shape;
  const hosts = shape.hostnames === 0 ? [] : [hostOf(i, shape.hostnames)];
  if (i % 5 === 0) hosts.push(`*.w${i % 31}.big.test`);
  if (i % 11 === 0) hosts.push(`alias${i % 53}.big.test`);
  const matches: string[] = [`{path: {type: PathPrefix, value: /r${i}-${generation}}}`];
  const extra = i % 100 === 1 ? 2 : rnd.int(0, 2);
  for (let m = 0; m < extra; m++) {
    if (m === 0 && i % 100 === 1) {
      // A few regexes, simple and linear, with no other condition.
      matches.push(`{path: {type: RegularExpression, value: "/re${i}/[a-z0-9]+/(items|orders)/[0-9]{1,6}"}}`);
      continue;
    }
    const kind = rnd.int(0, 9);
    const parts: string[] = [];
    if (kind < 4) {
      parts.push(`path: {type: Exact, value: /x${i}/exact/${m}}`);
    } else {
      parts.push(`path: {type: PathPrefix, value: /p${i}/v${m}/api}`);
    }
    if (rnd.int(0, 2) === 0) parts.push(`headers: [{name: x-tenant, value: t${rnd.int(0, 40)}}]`);
    if (rnd.int(0, 3) === 0) parts.push(`queryParams: [{name: v, value: "${rnd.int(1, 9)}"}]`);
    if (rnd.int(0, 4) === 0) parts.push(`method: ${rnd.int(0, 1) === 0 ? "GET" : "POST"}`);
    matches.push(`{${parts.join(", ")}}`);
  }
  const backends = rnd.int(1, 3);
  const refs: string[] = [];
  for (let b = 0; b < backends; b++) {
    refs.push(`{name: svc-${(i + b * 7) % services}, port: 80, weight: ${rnd.int(1, 5)}}`);
  }
  // The probed route (the last one) asks for /100, so that a static origin (the bench's nginx)
  // answers its probe with 200 too.
  const filters = shape.last ? "\n    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /100}}}]" : "";
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r${i}, namespace: default}
spec:
  parentRefs: [{name: edge}]
  hostnames: [${hosts.map((h) => `"${h}"`).join(", ")}]
  rules:
  - matches: [${matches.join(", ")}]
    backendRefs: [${refs.join(", ")}]${filters}`;
}
