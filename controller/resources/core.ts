// Shapes of the core Kubernetes kinds meshgate reads: what kube-proxy needs of Services and
// EndpointSlices, Namespace labels, and TLS Secrets (kept for the TLS listeners to come).
import { z } from "zod";

export const serviceSpecSchema = z.object({
  clusterIP: z.string().optional(),
  ports: z
    .array(
      z.object({
        name: z.string().default(""),
        port: z.number().int().min(1).max(65535),
        protocol: z.string().default("TCP"),
        // Recorded but never dialled: the EndpointSlice's port is what kube-proxy uses.
        targetPort: z.union([z.number().int(), z.string()]).optional(),
      }),
    )
    .default([]),
});

/** An EndpointSlice's top-level fields (it has no spec). Kubernetes writes nulls for empty lists. */
export const endpointSliceBodySchema = z.object({
  addressType: z.string().default("IPv4"),
  ports: z
    .array(
      z.object({
        name: z
          .string()
          .nullish()
          .transform((n) => n ?? ""),
        port: z.number().int().min(1).max(65535).nullish(),
        protocol: z.string().nullish(),
      }),
    )
    .nullish()
    .transform((p) => p ?? []),
  endpoints: z
    .array(
      z.object({
        addresses: z.array(z.string().min(1)).min(1),
        conditions: z
          .object({ ready: z.boolean().nullish() })
          .nullish()
          .transform((c) => ({ ready: c?.ready ?? null })),
        targetRef: z.object({ name: z.string().optional() }).nullish(),
      }),
    )
    .nullish()
    .transform((e) => e ?? []),
});

/**
 * `stringData` (plain text, as people write Secrets by hand) is folded into `data` as the API
 * server does on write: base64-encoded, a key in both taken from `stringData`.
 */
export const secretBodySchema = z
  .object({
    type: z.string().default("Opaque"),
    data: z
      .record(z.string(), z.string())
      .nullish()
      .transform((d) => d ?? {}),
    stringData: z.record(z.string(), z.string()).nullish(),
  })
  .transform(({ type, data, stringData }) => ({
    type,
    data: {
      ...data,
      ...Object.fromEntries(
        Object.entries(stringData ?? {}).map(([key, text]) => [key, Buffer.from(text, "utf8").toString("base64")]),
      ),
    },
  }));

export const emptySpecSchema = z.object({});

export type ServiceSpec = z.infer<typeof serviceSpecSchema>;
export type EndpointSliceBody = z.infer<typeof endpointSliceBodySchema>;
