// Spec shapes of the Gateway API kinds meshgate reads, with the checks the CRDs' own schema
// and CEL rules make: an object the API server would refuse is refused here at load time.
// Fields meshgate does not use are dropped; values it may not support are judged in translation,
// where the status can say so.
import { z } from "zod";

export const GATEWAY_GROUP = "gateway.networking.k8s.io";

/** RFC 1123 host name, optionally "*."-prefixed; stored lower-case. */
const hostname = z
  .string()
  .max(253)
  .regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i, "invalid hostname")
  .transform((h) => h.toLowerCase());

const portNumber = z.number().int().min(1).max(65535);

export const parentRefSchema = z.object({
  group: z.string().default(GATEWAY_GROUP),
  kind: z.string().default("Gateway"),
  namespace: z.string().min(1).optional(),
  name: z.string().min(1),
  sectionName: z.string().min(1).optional(),
  port: portNumber.optional(),
});

const headerValue = z.object({ name: z.string().min(1), value: z.string() });
const headerModifier = z.object({
  set: z.array(headerValue).default([]),
  add: z.array(headerValue).default([]),
  remove: z.array(z.string().min(1)).default([]),
});

const pathModifier = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ReplaceFullPath"), replaceFullPath: z.string() }),
  z.object({ type: z.literal("ReplacePrefixMatch"), replacePrefixMatch: z.string() }),
]);

/** `type` stays a free string: an unknown filter is an UnsupportedValue on the route, not a load error. */
export const routeFilterSchema = z.object({
  type: z.string().min(1),
  requestHeaderModifier: headerModifier.optional(),
  responseHeaderModifier: headerModifier.optional(),
  requestRedirect: z
    .object({
      scheme: z.string().optional(),
      hostname: hostname.optional(),
      port: portNumber.optional(),
      path: pathModifier.optional(),
      statusCode: z.number().int().default(302),
    })
    .optional(),
  urlRewrite: z.object({ hostname: hostname.optional(), path: pathModifier.optional() }).optional(),
  cors: z
    .object({
      allowOrigins: z.array(z.string().min(1)).max(64).default([]),
      allowMethods: z.array(z.string().min(1)).max(9).default([]),
      allowHeaders: z.array(z.string().min(1)).max(64).default([]),
      exposeHeaders: z.array(z.string().min(1)).max(64).default([]),
      allowCredentials: z.boolean().optional(),
      maxAge: z.number().int().min(1).default(5),
    })
    .optional(),
  requestMirror: z
    .object({
      backendRef: z.object({
        group: z.string().default(""),
        kind: z.string().default("Service"),
        name: z.string().min(1),
        namespace: z.string().min(1).optional(),
        port: portNumber.optional(),
      }),
      percent: z.number().int().min(0).max(100).optional(),
      fraction: z
        .object({
          numerator: z.number().int().min(0),
          denominator: z.number().int().min(1).default(100),
        })
        .refine((f) => f.numerator <= f.denominator, { message: "numerator must not exceed denominator" })
        .optional(),
    })
    .refine((m) => m.percent === undefined || m.fraction === undefined, {
      message: "give percent or fraction, not both",
    })
    .optional(),
});

export const backendRefSchema = z
  .object({
    group: z.string().default(""),
    kind: z.string().default("Service"),
    name: z.string().min(1),
    namespace: z.string().min(1).optional(),
    port: portNumber.optional(),
    weight: z.number().int().min(0).max(1_000_000).default(1),
    filters: z.array(routeFilterSchema).default([]),
  })
  .refine((r) => r.port !== undefined || r.group !== "" || r.kind !== "Service", {
    message: "port is required when the backendRef is a Service",
    path: ["port"],
  });

const valueMatch = z.object({
  type: z.enum(["Exact", "RegularExpression"]).default("Exact"),
  name: z.string().min(1),
  value: z.string(),
});

const pathMatch = z
  .object({
    type: z.enum(["Exact", "PathPrefix", "RegularExpression"]).default("PathPrefix"),
    value: z.string().min(1).default("/"),
  })
  .refine((p) => p.type === "RegularExpression" || p.value.startsWith("/"), {
    message: "an Exact or PathPrefix path must start with /",
    path: ["value"],
  });

export const routeMatchSchema = z.object({
  path: pathMatch.default({ type: "PathPrefix", value: "/" }),
  headers: z.array(valueMatch).default([]),
  queryParams: z.array(valueMatch).default([]),
  method: z.enum(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]).optional(),
});

export const httpRouteRuleSchema = z.object({
  name: z.string().min(1).optional(),
  matches: z.array(routeMatchSchema).default([]),
  filters: z.array(routeFilterSchema).default([]),
  backendRefs: z.array(backendRefSchema).default([]),
  timeouts: z.object({ request: z.string().optional(), backendRequest: z.string().optional() }).optional(),
  /** GEP-1731: codes 400-599, attempts >= 0, backoff a duration; judged in translation. */
  retry: z
    .object({
      codes: z.array(z.number().int().min(400).max(599)).default([]),
      attempts: z.number().int().min(0).optional(),
      backoff: z.string().optional(),
    })
    .optional(),
});

export const httpRouteSpecSchema = z.object({
  parentRefs: z.array(parentRefSchema).default([]),
  hostnames: z.array(hostname).default([]),
  // The CRD's default: one rule matching every path (with no backend, so it answers 500).
  rules: z.array(httpRouteRuleSchema).default([{ matches: [], filters: [], backendRefs: [] }]),
});

export const tlsRouteSpecSchema = z.object({
  parentRefs: z.array(parentRefSchema).default([]),
  hostnames: z.array(hostname).default([]),
  rules: z.array(z.object({ backendRefs: z.array(backendRefSchema).default([]) })).default([]),
});

const labelSelectorSchema = z.object({
  matchLabels: z.record(z.string(), z.string()).default({}),
  matchExpressions: z
    .array(
      z.object({
        key: z.string().min(1),
        operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
        values: z.array(z.string()).default([]),
      }),
    )
    .default([]),
});

export const certificateRefSchema = z.object({
  group: z.string().default(""),
  kind: z.string().default("Secret"),
  name: z.string().min(1),
  namespace: z.string().min(1).optional(),
});

const listenerSchema = z.object({
  name: z.string().min(1),
  hostname: hostname.optional(),
  port: portNumber,
  protocol: z.string().min(1),
  tls: z
    .object({
      mode: z.enum(["Terminate", "Passthrough"]).default("Terminate"),
      certificateRefs: z.array(certificateRefSchema).max(64).default([]),
    })
    .optional(),
  allowedRoutes: z
    .object({
      namespaces: z
        .object({
          from: z.enum(["All", "Same", "Selector"]).default("Same"),
          selector: labelSelectorSchema.optional(),
        })
        .refine((n) => n.from !== "Selector" || n.selector !== undefined, {
          message: "from: Selector needs a selector",
          path: ["selector"],
        })
        .default({ from: "Same" }),
      kinds: z
        .array(z.object({ group: z.string().default(GATEWAY_GROUP), kind: z.string().min(1) }))
        .optional(),
    })
    .default({ namespaces: { from: "Same" } }),
});

export const gatewaySpecSchema = z.object({
  // Required by the CRD; standalone mode serves a Gateway without one and says so in its status.
  gatewayClassName: z.string().default(""),
  listeners: z
    .array(listenerSchema)
    .min(1)
    .max(64)
    .refine((ls) => new Set(ls.map((l) => l.name)).size === ls.length, {
      message: "listener names must be unique within a Gateway",
    }),
});

export const gatewayClassSpecSchema = z.object({ controllerName: z.string().min(1) });

export const referenceGrantSpecSchema = z.object({
  from: z
    .array(z.object({ group: z.string(), kind: z.string().min(1), namespace: z.string().min(1) }))
    .min(1),
  to: z
    .array(
      z.object({
        group: z.string().default(""),
        kind: z.string().min(1),
        name: z.string().min(1).optional(),
      }),
    )
    .min(1),
});

export type ParentRef = z.infer<typeof parentRefSchema>;
export type RouteFilterSpec = z.infer<typeof routeFilterSchema>;
export type BackendRefSpec = z.infer<typeof backendRefSchema>;
export type RouteMatchSpec = z.infer<typeof routeMatchSchema>;
export type HTTPRouteRuleSpec = z.infer<typeof httpRouteRuleSchema>;
export type HTTPRouteSpec = z.infer<typeof httpRouteSpecSchema>;
export type GatewaySpec = z.infer<typeof gatewaySpecSchema>;
export type ListenerSpec = GatewaySpec["listeners"][number];
export type CertificateRef = z.infer<typeof certificateRefSchema>;
export type LabelSelector = z.infer<typeof labelSelectorSchema>;
