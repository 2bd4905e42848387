// The kinds the controller watches and where the API serves them. Secrets are watched only of
// type kubernetes.io/tls, and kept only while a listener references them (secrets.ts).
import type { Kind } from "../../resources/index.js";
import { GATEWAY_GROUP, POLICY_GROUP } from "../../resources/index.js";

export interface WatchedKind {
  kind: Kind;
  /** group/version, or version for the core group. */
  apiVersion: string;
  /** Lower-case plural as in the URL. */
  plural: string;
  /** Query parameters of every list and watch (field and label selectors). */
  selectors?: Record<string, string>;
  /** Does the controller write this kind's status? */
  hasStatus: boolean;
}

export const WATCHED_KINDS: readonly WatchedKind[] = [
  { kind: "GatewayClass", apiVersion: `${GATEWAY_GROUP}/v1`, plural: "gatewayclasses", hasStatus: true },
  { kind: "Gateway", apiVersion: `${GATEWAY_GROUP}/v1`, plural: "gateways", hasStatus: true },
  { kind: "HTTPRoute", apiVersion: `${GATEWAY_GROUP}/v1`, plural: "httproutes", hasStatus: true },
  { kind: "TLSRoute", apiVersion: `${GATEWAY_GROUP}/v1`, plural: "tlsroutes", hasStatus: true },
  { kind: "ReferenceGrant", apiVersion: `${GATEWAY_GROUP}/v1beta1`, plural: "referencegrants", hasStatus: false },
  { kind: "Namespace", apiVersion: "v1", plural: "namespaces", hasStatus: false },
  { kind: "Service", apiVersion: "v1", plural: "services", hasStatus: false },
  { kind: "EndpointSlice", apiVersion: "discovery.k8s.io/v1", plural: "endpointslices", hasStatus: false },
  {
    kind: "Secret",
    apiVersion: "v1",
    plural: "secrets",
    selectors: { fieldSelector: "type=kubernetes.io/tls" },
    hasStatus: false,
  },
  { kind: "BackendTrafficPolicy", apiVersion: `${POLICY_GROUP}/v1alpha1`, plural: "backendtrafficpolicies", hasStatus: true },
  { kind: "ClientTrafficPolicy", apiVersion: `${POLICY_GROUP}/v1alpha1`, plural: "clienttrafficpolicies", hasStatus: true },
  { kind: "RateLimitPolicy", apiVersion: `${POLICY_GROUP}/v1alpha1`, plural: "ratelimitpolicies", hasStatus: true },
  { kind: "MirrorComparisonPolicy", apiVersion: `${POLICY_GROUP}/v1alpha1`, plural: "mirrorcomparisonpolicies", hasStatus: true },
  { kind: "AcmeCertificatePolicy", apiVersion: `${POLICY_GROUP}/v1alpha1`, plural: "acmecertificatepolicies", hasStatus: true },
];

/** The collection URL of a kind, across namespaces or in one. */
export function collectionPath(k: WatchedKind, namespace?: string): string {
  const base = k.apiVersion.includes("/") ? `/apis/${k.apiVersion}` : `/api/${k.apiVersion}`;
  return namespace === undefined || namespace === "" ? `${base}/${k.plural}` : `${base}/namespaces/${namespace}/${k.plural}`;
}

export function objectPath(k: WatchedKind, namespace: string, name: string): string {
  return `${collectionPath(k, namespace)}/${encodeURIComponent(name)}`;
}
