// Gateway API and core objects as YAML for tests against the real API server: a class, a
// Gateway, an HTTPRoute, and a Service with the EndpointSlice kube-proxy would read (no kubelet
// runs here, so the slice points straight at a test backend on loopback).
import { CONTROLLER_NAME } from "../../controller/status/report.js";
import { ENDPOINT_ADDRESS } from "./endpoint-address.js";

export function gatewayClassYaml(name: string, controllerName = CONTROLLER_NAME): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ${name}}
spec: {controllerName: ${controllerName}}
`;
}

export function gatewayYaml(ns: string, name: string, className: string, port: number, extraListeners = ""): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${ns}}
spec:
  gatewayClassName: ${className}
  listeners:
  - {name: http, port: ${port}, protocol: HTTP}
${extraListeners}`;
}

export function httpRouteYaml(
  ns: string,
  name: string,
  gateway: string,
  hostname: string,
  backends: { service: string; port?: number; weight?: number }[],
  path = "/",
): string {
  const refs = backends
    .map((b) => `    - {name: ${b.service}, port: ${b.port ?? 80}${b.weight === undefined ? "" : `, weight: ${b.weight}`}}`)
    .join("\n");
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${ns}}
spec:
  parentRefs: [{name: ${gateway}}]
  hostnames: ["${hostname}"]
  rules:
  - matches: [{path: {type: PathPrefix, value: "${path}"}}]
    backendRefs:
${refs}
`;
}

/** A Service on port 80 and its EndpointSlice: one ready endpoint at address:targetPort. */
export function serviceYaml(ns: string, name: string, targetPort: number, address = ENDPOINT_ADDRESS): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  ports: [{name: http, port: 80, protocol: TCP, targetPort: ${targetPort}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-1
  namespace: ${ns}
  labels: {kubernetes.io/service-name: ${name}}
addressType: IPv4
ports: [{name: http, port: ${targetPort}, protocol: TCP}]
endpoints:
- addresses: ["${address}"]
  conditions: {ready: true}
`;
}
