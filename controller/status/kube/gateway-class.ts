// GatewayClass status: Accepted from the report, and SupportedVersion for the Gateway API CRDs
// installed in the cluster (their gateway.networking.k8s.io/bundle-version annotation).
import { type Condition, condition } from "../conditions.js";
import type { GatewayClassStatus } from "../report.js";
import { mergeConditions } from "./conditions.js";
import { type JsonObject, recordOf } from "./json.js";

/**
 * The Gateway API releases meshgate is built and tested against (major.minor). TLSRoute v1 came
 * with v1.5; the test cluster runs v1.6.3.
 */
export const SUPPORTED_BUNDLE_VERSIONS = ["v1.5", "v1.6"] as const;

const OWNED_TYPES = new Set(["Accepted", "SupportedVersion"]);

/**
 * SupportedVersion for the installed CRDs. An unknown or unsupported bundle is served on a best-effort
 * basis, as the spec allows: Accepted stays as it is and only this condition says False.
 */
export function supportedVersion(bundleVersion: string | undefined, generation: number): Condition {
  const supported = `meshgate supports ${SUPPORTED_BUNDLE_VERSIONS.map((v) => `${v}.x`).join(" and ")}`;
  if (bundleVersion === undefined || bundleVersion === "")
    return condition(
      "SupportedVersion",
      false,
      "UnsupportedVersion",
      `the Gateway API CRDs carry no gateway.networking.k8s.io/bundle-version annotation; ${supported} (served on a best-effort basis)`,
      generation,
    );
  const minor = /^(v\d+\.\d+)\.\d+$/.exec(bundleVersion)?.[1];
  const ok = minor !== undefined && (SUPPORTED_BUNDLE_VERSIONS as readonly string[]).includes(minor);
  return ok
    ? condition("SupportedVersion", true, "SupportedVersion", `Gateway API CRDs ${bundleVersion}`, generation)
    : condition(
        "SupportedVersion",
        false,
        "UnsupportedVersion",
        `Gateway API CRDs ${bundleVersion}; ${supported} (served on a best-effort basis)`,
        generation,
      );
}

export interface GatewayClassInputs {
  /** The bundle version of the installed Gateway API CRDs; undefined when they carry none. */
  bundleVersion: string | undefined;
  now: string;
}

export function gatewayClassStatusBody(entry: GatewayClassStatus, current: unknown, inputs: GatewayClassInputs): JsonObject {
  const status = recordOf(current);
  const generation = Math.max(0, ...entry.conditions.map((c) => c.observedGeneration));
  const desired = [...entry.conditions, supportedVersion(inputs.bundleVersion, generation)];
  return {
    ...status,
    conditions: mergeConditions(desired, status["conditions"], { now: inputs.now, owns: (t) => OWNED_TYPES.has(t) }),
  };
}
