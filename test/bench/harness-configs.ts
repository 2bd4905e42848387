// Configuration text for the origin and the three proxies; pure, so each can be read in one place.

/** The small response: exactly 100 bytes, plain ASCII so it needs no escaping in nginx.conf. */
export const BODY_100 = "meshgate-bench-".repeat(7).slice(0, 99) + "\n";
export const BODY_16K_BYTES = 16 * 1024;

// Keep-alive for the whole run: a connection closed by the server mid-benchmark shows up in wrk
// as a reconnect, which would measure connection set-up instead of proxying.
const MANY_REQUESTS = 1_000_000;

/** nginx in the foreground, one process, every file it writes under `dir` (tests use it too). */
export function nginxMain(dir: string, http: string): string {
  return `daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests ${MANY_REQUESTS};
  keepalive_timeout 300s;
${http}
}
`;
}

/** Where an origin started with a status path counts the requests it has read (nginx stub_status). */
export const ORIGIN_STATUS_PATH = "/nginx-status";

/** The origin: /100 returns BODY_100; /16k is a static file in `wwwDir` (nginx's `return` text
 * is limited by its 4 KiB config token buffer). With `withStatus`, ORIGIN_STATUS_PATH answers
 * nginx's request counters: cheaper than an access log, and it still proves what arrived. */
export function nginxOriginConf(dir: string, port: number, wwwDir: string, withStatus = false): string {
  const status = withStatus ? `\n    location = ${ORIGIN_STATUS_PATH} { stub_status; }` : "";
  return nginxMain(
    dir,
    `  default_type text/plain;
  sendfile on;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location = /100 { return 200 "${BODY_100.slice(0, -1)}\\n"; }
    location = /16k { root ${wwwDir}; }${status}
  }`,
  );
}

/** TLS termination at nginx: the PEM files it reads and the name it serves. */
export interface NginxTls {
  serverName: string;
  /** Leaf then CA, as meshgate's Secret holds it. */
  chainFile: string;
  keyFile: string;
}

/** nginx as the proxy in front of the origin; with `tls` it terminates TLS on `port` and proxies
 * exactly as without (plain HTTP, keep-alive upstream). TLS settings are nginx's defaults, except
 * the protocols: nginx before 1.23.4 leaves TLS 1.3 out by default, and meshgate speaks it. */
export function nginxProxyConf(dir: string, port: number, originPort: number, tls?: NginxTls): string {
  const listen =
    tls === undefined
      ? `    listen 127.0.0.1:${port} backlog=4096;`
      : `    listen 127.0.0.1:${port} ssl backlog=4096;
    server_name ${tls.serverName};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate ${tls.chainFile};
    ssl_certificate_key ${tls.keyFile};`;
  return nginxMain(
    dir,
    `  upstream origin {
    server 127.0.0.1:${originPort};
    keepalive 64;
    keepalive_requests ${MANY_REQUESTS};
  }
  server {
${listen}
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`,
  );
}

/** HAProxy's maxconn must stay below what the descriptor limit allows (two sockets per proxied
 * connection plus its own), or it refuses to start. */
export function haproxyMaxconn(fdLimit: number): number {
  return Math.max(300, Math.min(10_000, Math.floor((fdLimit - 200) / 2)));
}

export function haproxyConf(port: number, originPort: number, fdLimit: number): string {
  return `global
  nbthread 1
  maxconn ${haproxyMaxconn(fdLimit)}

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 300s

frontend bench
  bind 127.0.0.1:${port}
  default_backend origin

backend origin
  server origin 127.0.0.1:${originPort}
`;
}

/** HAProxy forwarding TCP as it comes (the passthrough benchmark's reference): no TLS, no SNI,
 * one backend. */
export function haproxyTcpConf(port: number, originPort: number, fdLimit: number): string {
  return `global
  nbthread 1
  maxconn ${haproxyMaxconn(fdLimit)}

defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s

frontend passthrough
  bind 127.0.0.1:${port}
  default_backend tls_origin

backend tls_origin
  server tls_origin 127.0.0.1:${originPort}
`;
}

/** What a benchmark variant adds to meshgateConfig: filters on the route's one rule (a YAML flow
 * sequence) and further documents (policies, Services). */
export interface MeshgateExtras {
  filters?: string;
  documents?: string;
}

/** A Service named `name` (port 80 unless given) whose one EndpointSlice points at 127.0.0.1:`targetPort`. */
export function loopbackService(name: string, targetPort: number, port = 80, portName = "http"): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec:
  ports: [{name: ${portName}, port: ${port}, targetPort: ${targetPort}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-1
  namespace: default
  labels: {kubernetes.io/service-name: ${name}}
addressType: IPv4
ports: [{name: ${portName}, port: ${targetPort}}]
endpoints:
- addresses: ["127.0.0.1"]
  conditions: {ready: true}
`;
}

/** One Gateway listener on `port`, "/" to Service origin:80 ("http"), whose slice points at the origin. */
export function meshgateConfig(port: number, originPort: number, extras: MeshgateExtras = {}): string {
  const filters = extras.filters === undefined ? "" : `\n    filters: ${extras.filters}`;
  const documents = extras.documents === undefined ? "" : `---\n${extras.documents}`;
  return `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: meshgate}
spec: {controllerName: meshgate.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bench, namespace: default}
spec:
  gatewayClassName: meshgate
  listeners:
  - {name: http, protocol: HTTP, port: ${port}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: origin, namespace: default}
spec:
  parentRefs: [{name: bench}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: origin, port: 80}]${filters}
---
${loopbackService("origin", originPort)}${documents}`;
}
