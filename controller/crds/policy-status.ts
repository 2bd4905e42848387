// The status every meshgate policy kind carries: Gateway API's PolicyStatus (GEP-713), one entry
// per ancestor (usually a Gateway) the policy applies to, written by the controller that manages
// that ancestor, with metav1.Condition conditions (Accepted first among them). The limits are the
// API's own (Gateway API v1 PolicyAncestorStatus, apimachinery's Condition), so a status that
// another Gateway API tool reads back has the shape it expects.
import { GATEWAY_GROUP } from "../resources/index.js";
import type { Schema } from "./schema.js";

const DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
const DNS_SUBDOMAIN = String.raw`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`;

const ancestorRef: Schema = {
  type: "object",
  description: "The object the policy applies to through its targets (a Gateway, for meshgate's policies).",
  required: ["name"],
  properties: {
    group: { type: "string", default: GATEWAY_GROUP, maxLength: 253, pattern: `^$|${DNS_SUBDOMAIN}` },
    kind: { type: "string", default: "Gateway", minLength: 1, maxLength: 63, pattern: "^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$" },
    namespace: { type: "string", minLength: 1, maxLength: 63, pattern: DNS_LABEL },
    name: { type: "string", minLength: 1, maxLength: 253 },
    sectionName: { type: "string", minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN },
    port: { type: "integer", format: "int32", minimum: 1, maximum: 65535 },
  },
};

/** metav1.Condition, as the API server's own types validate it. */
const condition: Schema = {
  type: "object",
  required: ["type", "status", "reason", "message", "lastTransitionTime"],
  properties: {
    type: {
      type: "string",
      maxLength: 316,
      pattern: String.raw`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$`,
    },
    status: { type: "string", enum: ["True", "False", "Unknown"] },
    observedGeneration: { type: "integer", format: "int64", minimum: 0 },
    lastTransitionTime: { type: "string", format: "date-time" },
    reason: { type: "string", minLength: 1, maxLength: 1024, pattern: "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$" },
    message: { type: "string", maxLength: 32768 },
  },
};

export const POLICY_STATUS_SCHEMA: Schema = {
  type: "object",
  description: "GEP-713 PolicyStatus: the policy's conditions per ancestor it applies to.",
  required: ["ancestors"],
  properties: {
    ancestors: {
      type: "array",
      maxItems: 16,
      items: {
        type: "object",
        required: ["ancestorRef", "controllerName", "conditions"],
        properties: {
          ancestorRef,
          controllerName: {
            type: "string",
            description: "The controller that wrote this entry (meshgate.io/gateway-controller for meshgate).",
            minLength: 1,
            maxLength: 253,
            pattern: String.raw`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$`,
          },
          conditions: {
            type: "array",
            minItems: 1,
            maxItems: 8,
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
            items: condition,
          },
        },
      },
    },
  },
};
