// The Kubernetes-shaped objects the controller reads, whichever provider they come from.
// Shapes are checked at load time with zod; fields a kind does not use pass through untouched.
import { z } from "zod";

export const metadataSchema = z.object({
  name: z.string().min(1),
  namespace: z.string().min(1).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  creationTimestamp: z.union([z.string(), z.date()]).optional(),
  generation: z.number().int().optional(),
});

const parentRefSchema = z.object({
  group: z.string().optional(),
  kind: z.string().optional(),
  namespace: z.string().optional(),
  name: z.string().min(1),
  sectionName: z.string().optional(),
  port: z.number().int().optional(),
});

const headerModSchema = z
  .object({
    set: z.array(z.object({ name: z.string().min(1), value: z.string() })).optional(),
    add: z.array(z.object({ name: z.string().min(1), value: z.string() })).optional(),
    remove: z.array(z.string().min(1)).optional(),
  })
  .optional();

const pathModSchema = z
  .object({
    type: z.enum(["ReplaceFullPath", "ReplacePrefixMatch"]),
    replaceFullPath: z.string().optional(),
    replacePrefixMatch: z.string().optional(),
  })
  .optional();

export const routeFilterSchema = z.looseObject({
  type: z.string(),
  requestHeaderModifier: headerModSchema,
  responseHeaderModifier: headerModSchema,
  requestRedirect: z
    .object({
      scheme: z.string().optional(),
      hostname: z.string().optional(),
      port: z.number().int().optional(),
      path: pathModSchema,
      statusCode: z.number().int().optional(),
    })
    .optional(),
  urlRewrite: z.object({ hostname: z.string().optional(), path: pathModSchema }).optional(),
});

export const backendRefSchema = z.object({
  group: z.string().optional(),
  kind: z.string().optional(),
  name: z.string().min(1),
  namespace: z.string().optional(),
  port: z.number().int().optional(),
  weight: z.number().int().min(0).max(1_000_000).optional(),
  filters: z.array(routeFilterSchema).optional(),
});

const matchSchema = z.object({
  path: z
    .object({
      type: z.enum(["Exact", "PathPrefix", "RegularExpression"]).optional(),
      value: z.string().optional(),
    })
    .optional(),
  headers: z
    .array(
      z.object({
        type: z.enum(["Exact", "RegularExpression"]).optional(),
        name: z.string().min(1),
        value: z.string(),
      }),
    )
    .optional(),
  queryParams: z
    .array(
      z.object({
        type: z.enum(["Exact", "RegularExpression"]).optional(),
        name: z.string().min(1),
        value: z.string(),
      }),
    )
    .optional(),
  method: z.string().optional(),
});

export const httpRouteSpecSchema = z.object({
  parentRefs: z.array(parentRefSchema).optional(),
  hostnames: z.array(z.string()).optional(),
  rules: z
    .array(
      z.object({
        name: z.string().optional(),
        matches: z.array(matchSchema).optional(),
        filters: z.array(routeFilterSchema).optional(),
        backendRefs: z.array(backendRefSchema).optional(),
        timeouts: z
          .object({ request: z.string().optional(), backendRequest: z.string().optional() })
          .optional(),
      }),
    )
    .optional(),
});

const labelSelectorSchema = z.object({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z
    .array(
      z.object({
        key: z.string(),
        operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});

export const gatewaySpecSchema = z.object({
  gatewayClassName: z.string().optional(),
  listeners: z.array(
    z.object({
      name: z.string().min(1),
      hostname: z.string().optional(),
      port: z.number().int().min(1).max(65535),
      protocol: z.string(),
      tls: z.unknown().optional(),
      allowedRoutes: z
        .object({
          namespaces: z
            .object({
              from: z.enum(["All", "Same", "Selector"]).optional(),
              selector: labelSelectorSchema.optional(),
            })
            .optional(),
          kinds: z.array(z.object({ group: z.string().optional(), kind: z.string() })).optional(),
        })
        .optional(),
    }),
  ),
});

export const serviceSpecSchema = z.object({
  clusterIP: z.string().optional(),
  ports: z
    .array(
      z.object({ name: z.string().optional(), port: z.number().int(), targetPort: z.unknown().optional() }),
    )
    .optional(),
});

export const endpointSliceSchema = z.object({
  ports: z
    .array(z.object({ name: z.string().nullable().optional(), port: z.number().int().nullable().optional() }))
    .nullable()
    .optional(),
  endpoints: z
    .array(
      z.object({
        addresses: z.array(z.string()),
        conditions: z.object({ ready: z.boolean().nullable().optional() }).nullable().optional(),
      }),
    )
    .nullable()
    .optional(),
});

export const referenceGrantSpecSchema = z.object({
  from: z.array(z.object({ group: z.string(), kind: z.string(), namespace: z.string() })),
  to: z.array(z.object({ group: z.string(), kind: z.string(), name: z.string().optional() })),
});

export const targetRefsSchema = z.array(
  z.object({
    group: z.string().optional(),
    kind: z.string(),
    name: z.string().min(1),
    sectionName: z.string().optional(),
  }),
);

/** One object read from a source, with where it came from for error messages. */
export interface Resource {
  apiVersion: string;
  kind: string;
  metadata: z.infer<typeof metadataSchema> & { namespace: string };
  /** The whole object as read (spec, data, type, and for EndpointSlice its top-level fields). */
  body: Record<string, unknown>;
  source: string;
}

export interface LoadError {
  file: string;
  document: number;
  object?: string;
  message: string;
}

/** Kinds the controller reads, by kind, with the API groups accepted for each. */
export const KNOWN_KINDS: Record<string, string[]> = {
  GatewayClass: ["gateway.networking.k8s.io"],
  Gateway: ["gateway.networking.k8s.io"],
  HTTPRoute: ["gateway.networking.k8s.io"],
  TLSRoute: ["gateway.networking.k8s.io"],
  ReferenceGrant: ["gateway.networking.k8s.io"],
  Namespace: [""],
  Service: [""],
  Secret: [""],
  EndpointSlice: ["discovery.k8s.io"],
  BackendTrafficPolicy: ["meshgate.io"],
  ClientTrafficPolicy: ["meshgate.io"],
};

/** Kinds without a namespace. */
export const CLUSTER_SCOPED = new Set(["GatewayClass", "Namespace"]);

export function objectName(r: { kind: string; metadata: { namespace?: string; name: string } }): string {
  return r.metadata.namespace === undefined || CLUSTER_SCOPED.has(r.kind)
    ? `${r.kind}/${r.metadata.name}`
    : `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
}
