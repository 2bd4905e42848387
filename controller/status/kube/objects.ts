// The objects meshgate writes status to, and where the API serves each kind.
import { GATEWAY_GROUP, POLICY_GROUP } from "../../resources/index.js";

export interface KindCoordinates {
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}

export const STATUS_KINDS = {
  GatewayClass: { group: GATEWAY_GROUP, version: "v1", plural: "gatewayclasses", namespaced: false },
  Gateway: { group: GATEWAY_GROUP, version: "v1", plural: "gateways", namespaced: true },
  HTTPRoute: { group: GATEWAY_GROUP, version: "v1", plural: "httproutes", namespaced: true },
  TLSRoute: { group: GATEWAY_GROUP, version: "v1", plural: "tlsroutes", namespaced: true },
  BackendTrafficPolicy: { group: POLICY_GROUP, version: "v1alpha1", plural: "backendtrafficpolicies", namespaced: true },
  ClientTrafficPolicy: { group: POLICY_GROUP, version: "v1alpha1", plural: "clienttrafficpolicies", namespaced: true },
  RateLimitPolicy: { group: POLICY_GROUP, version: "v1alpha1", plural: "ratelimitpolicies", namespaced: true },
  MirrorComparisonPolicy: { group: POLICY_GROUP, version: "v1alpha1", plural: "mirrorcomparisonpolicies", namespaced: true },
  AcmeCertificatePolicy: { group: POLICY_GROUP, version: "v1alpha1", plural: "acmecertificatepolicies", namespaced: true },
} as const satisfies Record<string, KindCoordinates>;

export type StatusKind = keyof typeof STATUS_KINDS;

export function isStatusKind(kind: string): kind is StatusKind {
  return Object.hasOwn(STATUS_KINDS, kind);
}

export interface ObjectRef {
  kind: StatusKind;
  /** Absent for cluster-scoped kinds (GatewayClass). */
  namespace?: string;
  name: string;
}

/** "Kind/namespace/name", or "Kind/name" for a cluster-scoped object. */
export function objectKey(ref: ObjectRef): string {
  return ref.namespace === undefined ? `${ref.kind}/${ref.name}` : `${ref.kind}/${ref.namespace}/${ref.name}`;
}

/** The object as the caller's cache (an informer) or a direct read has it. */
export interface CurrentObject {
  generation: number;
  resourceVersion: string;
  status: unknown;
}
