// The feature benchmark's meshgate variants as configuration: no policy, a Global or a Local
// rate limit that the run can never reach, and a RequestMirror of every request to a second
// origin. Pure, so the YAML can be read (and tested) in one place.
import { loopbackService, type MeshgateExtras, meshgateConfig } from "./harness-configs.js";

export type FeatureVariant = "meshgate" | "global limit" | "local limit" | "mirror 100%";

/** In table order; the first is the reference the others are compared with. */
export const FEATURE_VARIANTS: readonly FeatureVariant[] = ["meshgate", "global limit", "local limit", "mirror 100%"];
export const FEATURE_REFERENCE: FeatureVariant = "meshgate";

/** The limit every request is counted against: a billion a day. A full run sends each variant a
 * few million requests, so the limit is never reached (a 429 would be a failed check), and a
 * day-long window keeps the Redis key alive for the whole run, so its count can be read back. */
export const NEVER_REACHED = { requests: 1_000_000_000, unit: "Day" } as const;
export const RATE_LIMIT_POLICY = "never-reached";
/** Prefix of the keys meshgate's Global limiter writes in Redis (gateway/ratelimit/runtime.ts). */
export const REDIS_KEY_PATTERN = "meshgate-rl*";
/** The Service the mirror copies go to. */
export const MIRROR_SERVICE = "mirror";

/** Process (and log file) name of each variant's meshgate. */
export function variantProcName(variant: FeatureVariant): string {
  const names: Record<FeatureVariant, string> = {
    meshgate: "meshgate-plain",
    "global limit": "meshgate-global",
    "local limit": "meshgate-local",
    "mirror 100%": "meshgate-mirror",
  };
  return names[variant];
}

export function rateLimitPolicy(type: "Global" | "Local"): string {
  return `apiVersion: meshgate.io/v1alpha1
kind: RateLimitPolicy
metadata: {name: ${RATE_LIMIT_POLICY}, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: origin}]
  rules:
  - name: everyone
    limit: {requests: ${NEVER_REACHED.requests}, unit: ${NEVER_REACHED.unit}}
    type: ${type}
`;
}

/** RequestMirror of every request (percent 100) to MIRROR_SERVICE:80. */
export const MIRROR_FILTER = `[{type: RequestMirror, requestMirror: {backendRef: {name: ${MIRROR_SERVICE}, port: 80}, percent: 100}}]`;

export interface FeaturePorts {
  /** meshgate's listener. */
  port: number;
  originPort: number;
  /** The second origin, for "mirror 100%". */
  mirrorPort: number;
}

function extras(variant: FeatureVariant, mirrorPort: number): MeshgateExtras {
  switch (variant) {
    case "meshgate":
      return {};
    case "global limit":
      return { documents: rateLimitPolicy("Global") };
    case "local limit":
      return { documents: rateLimitPolicy("Local") };
    case "mirror 100%":
      return { filters: MIRROR_FILTER, documents: loopbackService(MIRROR_SERVICE, mirrorPort) };
  }
}

/** The HTTP benchmark's configuration (one listener, "/" to the origin) plus the variant's feature. */
export function meshgateFeatureConfig(variant: FeatureVariant, ports: FeaturePorts): string {
  return meshgateConfig(ports.port, ports.originPort, extras(variant, ports.mirrorPort));
}

/** Command-line flags beyond the HTTP benchmark's: Global limits count in the bench's Redis. */
export function variantArgs(variant: FeatureVariant, redisPort: number): string[] {
  return variant === "global limit" ? ["--redis", `redis://127.0.0.1:${redisPort}`] : [];
}
