// meshgate's policy kinds as CRDs see them: names, the zod schema that validates the spec, the
// parse function the controller runs, and how each check zod's JSON Schema cannot show is
// lowered (lowering.ts). The target kinds, the duration grammar and its limit come from the
// validator's own constants, so the two cannot drift apart.
import type { z } from "zod";
import { GATEWAY_GROUP } from "../resources/index.js";
import { DURATION_MAX_LENGTH, DURATION_PATTERN, MAX_TIMER_TEXT } from "../translate/duration.js";
import {
  acmeCertificateSpec,
  backendTrafficSpec,
  clientTrafficSpec,
  durationMs,
  fixedTenSeconds,
  mirrorComparisonSpec,
  parseAcmeCertificatePolicy,
  parseBackendTrafficPolicy,
  parseClientTrafficPolicy,
  parseMirrorComparisonPolicy,
  parseRateLimitPolicy,
  POLICY_TARGET_KINDS,
  rateLimitSpec,
} from "../translate/policies.js";
import type { Fragment } from "./from-zod.js";
import type { Lowering } from "./lowering.js";

export interface PolicyKind {
  kind: keyof typeof POLICY_TARGET_KINDS;
  plural: string;
  schema: z.ZodType;
  /** The controller's verdict on a spec: the same function translation calls. */
  parse(spec: unknown): { ok: true } | { ok: false; message: string };
  lowerings: readonly Lowering[];
}

/** A Gateway API Duration, as parseDuration reads it, no longer than a Node timer holds. */
const DURATION: Fragment = {
  set: { pattern: DURATION_PATTERN, maxLength: DURATION_MAX_LENGTH },
  validations: [
    {
      rule: `duration(self) <= duration('${MAX_TIMER_TEXT}')`,
      message: `must be at most ${MAX_TIMER_TEXT} (24.8 days), the longest timeout meshgate can hold`,
    },
  ],
};

/** Schemas used in many places, lowered wherever they occur. */
export const LOWERED_EVERYWHERE: ReadonlyMap<z.core.$ZodType, Fragment> = new Map<z.core.$ZodType, Fragment>([
  [durationMs, DURATION],
  [
    fixedTenSeconds,
    {
      set: DURATION.set,
      validations: [{ rule: "duration(self) == duration('10s')", message: "only 10s is supported (uWebSockets.js fixes this timeout at 10 s)" }],
    },
  ],
]);

function targetRefs(kind: PolicyKind["kind"]): Lowering {
  const kinds = POLICY_TARGET_KINDS[kind];
  return {
    path: "targetRefs[]",
    source: "schema",
    rule: `a target is a ${kinds.join(" or ")} of ${GATEWAY_GROUP}`,
    crd: { properties: { group: { enum: [GATEWAY_GROUP] }, kind: { enum: [...kinds] } } },
  };
}

const controllerOnly = (path: string, source: Lowering["source"], rule: string): Lowering => ({ path, source, rule });

export const POLICY_KINDS: readonly PolicyKind[] = [
  {
    kind: "BackendTrafficPolicy",
    plural: "backendtrafficpolicies",
    schema: backendTrafficSpec,
    parse: parseBackendTrafficPolicy,
    lowerings: [
      targetRefs("BackendTrafficPolicy"),
      {
        path: "faultInjection",
        source: "schema",
        rule: "give delay, abort or both",
        crd: { validations: [{ rule: "has(self.delay) || has(self.abort)", message: "give delay, abort or both" }] },
      },
      {
        path: "faultInjection.abort",
        source: "schema",
        rule: "httpStatus is required; grpcStatus is not supported",
        crd: { drop: ["grpcStatus"], required: ["httpStatus"] },
      },
      {
        path: "loadBalancer",
        source: "parse",
        rule: "consistentHash is required for type ConsistentHash",
        crd: { validations: [{ rule: "self.type != 'ConsistentHash' || has(self.consistentHash)", message: "consistentHash: required for ConsistentHash" }] },
      },
      {
        path: "loadBalancer.consistentHash",
        source: "parse",
        rule: "header (cookie) is required for type Header (Cookie)",
        crd: {
          validations: [
            { rule: "self.type != 'Header' || has(self.header)", message: "header.name: required for type Header" },
            { rule: "self.type != 'Cookie' || has(self.cookie)", message: "cookie.name: required for type Cookie" },
          ],
        },
      },
      {
        path: "retry.perRetry.backOff",
        source: "parse",
        rule: "baseInterval is not longer than maxInterval",
        crd: {
          validations: [
            {
              rule: "!has(self.baseInterval) || !has(self.maxInterval) || duration(self.baseInterval) <= duration(self.maxInterval)",
              message: "baseInterval is longer than maxInterval",
            },
          ],
        },
      },
    ],
  },
  {
    kind: "ClientTrafficPolicy",
    plural: "clienttrafficpolicies",
    schema: clientTrafficSpec,
    parse: parseClientTrafficPolicy,
    lowerings: [
      targetRefs("ClientTrafficPolicy"),
      {
        path: "tls",
        source: "schema",
        rule: "no ciphers with minVersion 1.3",
        crd: {
          validations: [
            {
              rule: "!has(self.minVersion) || self.minVersion != '1.3' || !has(self.ciphers)",
              message: "ciphers sets TLS 1.2 suites; with minVersion 1.3 there are none to choose (BoringSSL fixes TLS 1.3's)",
            },
          ],
        },
      },
      controllerOnly("tls.ciphers[]", "schema", "each entry a TLS 1.2 suite this build knows, or a group [A|B] of them"),
      controllerOnly("proxyProtocol.trustedCIDRs[]", "schema", "each a CIDR block with a prefix length and no bits set after it"),
    ],
  },
  {
    kind: "RateLimitPolicy",
    plural: "ratelimitpolicies",
    schema: rateLimitSpec,
    parse: parseRateLimitPolicy,
    lowerings: [
      targetRefs("RateLimitPolicy"),
      controllerOnly("rules[].clientSelectors[].headers[].anyOf[1].value", "schema", "a RegularExpression header value is an RE2 expression the data plane accepts"),
      controllerOnly("rules[].clientSelectors[].sourceCIDR.value", "schema", "an IP address or CIDR block"),
      controllerOnly("rules", "parse", "rule names are unique (an unnamed rule is named by its index)"),
    ],
  },
  {
    kind: "MirrorComparisonPolicy",
    plural: "mirrorcomparisonpolicies",
    schema: mirrorComparisonSpec,
    parse: parseMirrorComparisonPolicy,
    lowerings: [targetRefs("MirrorComparisonPolicy")],
  },
  {
    kind: "AcmeCertificatePolicy",
    plural: "acmecertificatepolicies",
    schema: acmeCertificateSpec,
    parse: parseAcmeCertificatePolicy,
    lowerings: [
      targetRefs("AcmeCertificatePolicy"),
      controllerOnly("acme.directory", "schema", "an https:// URL"),
      controllerOnly("acme.caBundle", "schema", "PEM CERTIFICATE blocks only, each a certificate that parses"),
    ],
  },
];
