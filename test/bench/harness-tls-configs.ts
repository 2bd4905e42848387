// Configuration text for the TLS benchmark: meshgate's Gateway with HTTPS and TLS passthrough
// listeners, and the wrk script that lets the URL carry the certificate's name. Pure.
import { tlsSecret } from "../support/controller-yaml.js";
import { loopbackService } from "./harness-configs.js";

/** The name the terminating proxies serve (SNI and Host). */
export const BENCH_HOST = "bench.example.com";
/** The name TLS passthrough routes to the TLS origin. */
export const PASS_HOST = "pass.example.com";

export interface HttpsListener {
  port: number;
  /** The plain-HTTP nginx origin. */
  originPort: number;
  /** Leaf then CA, PEM. */
  chainPem: string;
  keyPem: string;
}

export interface PassthroughListener {
  port: number;
  /** The TLS origin (tls-source), which holds PASS_HOST's certificate. */
  originPort: number;
}

/**
 * One Gateway with an HTTPS listener for BENCH_HOST (terminated, "/" to the HTTP origin) and/or a
 * TLS Passthrough listener for PASS_HOST (a TLSRoute to the TLS origin). Both on one port is the
 * shared-port case, where every connection's ClientHello is read before it is terminated or piped.
 */
export function meshgateTlsConfig(spec: { https?: HttpsListener; passthrough?: PassthroughListener }): string {
  const { https, passthrough } = spec;
  if (https === undefined && passthrough === undefined) throw new Error("a Gateway needs a listener");
  const listeners: string[] = [];
  const docs: string[] = [];
  if (https !== undefined) {
    listeners.push(
      `  - {name: https, protocol: HTTPS, port: ${https.port}, hostname: ${BENCH_HOST}, ` +
        `tls: {certificateRefs: [{name: bench-cert}]}}`,
    );
    docs.push(
      tlsSecret("bench-cert", https.chainPem, https.keyPem),
      `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: origin, namespace: default}
spec:
  parentRefs: [{name: bench, sectionName: https}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: origin, port: 80}]
`,
      service("origin", 80, "http", https.originPort),
    );
  }
  if (passthrough !== undefined) {
    listeners.push(
      `  - {name: tls, protocol: TLS, port: ${passthrough.port}, hostname: ${PASS_HOST}, tls: {mode: Passthrough}}`,
    );
    docs.push(
      `---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: pass, namespace: default}
spec:
  parentRefs: [{name: bench, sectionName: tls}]
  hostnames: [${PASS_HOST}]
  rules:
  - backendRefs: [{name: tls-origin, port: 443}]
`,
      service("tls-origin", 443, "https", passthrough.originPort),
    );
  }
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
${listeners.join("\n")}
${docs.join("")}`;
}

/** A Service and its one EndpointSlice on 127.0.0.1:`targetPort`. */
function service(name: string, port: number, portName: string, targetPort: number): string {
  return `---\n${loopbackService(name, targetPort, port, portName)}`;
}

/**
 * wrk sends the URL's host as SNI and Host header, and resolves it to connect. With this script
 * the URL can name the certificate (https://bench.example.com:PORT/) while wrk connects to
 * loopback, with no /etc/hosts entry. wrk calls wrk.resolve once, before its threads start; no
 * request() or response() hook is defined, so wrk keeps its fast static-request path.
 */
export const WRK_LOOPBACK_LUA = `-- meshgate bench: connect to 127.0.0.1 whatever host the URL names
wrk.resolve = function(host, service)
  wrk.addrs = wrk.lookup("127.0.0.1", service)
end
`;
