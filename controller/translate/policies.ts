// meshgate's policy kinds (meshgate.io/v1alpha1), in Envoy Gateway's shape, mapped onto the
// Snapshot's cluster and port settings.
import { z } from "zod";
import type { ClientSettings, ClusterInput } from "../../gateway/snapshot.js";
import { type Resource, targetRefsSchema } from "../resources.js";
import { parseDuration } from "./util.js";

const duration = z.string().refine((v) => parseDuration(v) !== undefined, {
  message: "not a Gateway API duration (e.g. 5s, 250ms, 1m)",
});

const backendTrafficSpec = z.object({
  targetRefs: targetRefsSchema.min(1),
  loadBalancer: z
    .object({
      type: z.enum(["RoundRobin", "LeastRequest", "Random", "ConsistentHash"]),
      consistentHash: z
        .object({
          type: z.enum(["Header", "Cookie", "SourceIP"]),
          header: z.object({ name: z.string().min(1) }).optional(),
          cookie: z.object({ name: z.string().min(1) }).optional(),
        })
        .optional(),
    })
    .optional(),
  retry: z
    .object({
      numRetries: z.number().int().min(0).max(10).optional(),
      retryOn: z
        .object({
          triggers: z.array(z.enum(["connect-failure", "reset", "retriable-status-codes"])).optional(),
          httpStatusCodes: z.array(z.number().int().min(100).max(599)).optional(),
        })
        .optional(),
      perRetry: z
        .object({
          timeout: duration.optional(),
          backOff: z
            .object({ baseInterval: duration.optional(), maxInterval: duration.optional() })
            .optional(),
        })
        .optional(),
      budgetPercent: z.number().min(0).max(100).optional(),
    })
    .optional(),
  healthCheck: z
    .object({
      passive: z
        .object({
          consecutiveErrors: z.number().int().min(0).optional(),
          baseEjectionTime: duration.optional(),
          maxEjectionPercent: z.number().min(0).max(100).optional(),
        })
        .optional(),
    })
    .optional(),
  circuitBreaker: z
    .object({
      maxConnections: z.number().int().positive().optional(),
      maxPendingRequests: z.number().int().min(0).optional(),
      maxParallelRequests: z.number().int().positive().optional(),
    })
    .optional(),
  timeout: z
    .object({
      tcp: z.object({ connectTimeout: duration.optional() }).optional(),
      http: z
        .object({ requestTimeout: duration.optional(), connectionIdleTimeout: duration.optional() })
        .optional(),
    })
    .optional(),
  connection: z.object({ perEndpoint: z.number().int().positive().max(4096).optional() }).optional(),
});

const clientTrafficSpec = z.object({
  targetRefs: targetRefsSchema.min(1),
  clientLimits: z
    .object({
      maxHeaderBytes: z.number().int().positive().optional(),
      maxUrlBytes: z.number().int().positive().optional(),
      maxBodyBytes: z.number().int().min(0).optional(),
    })
    .optional(),
});

export type ClusterOverrides = Omit<ClusterInput, "name" | "endpoints">;

export interface ParsedPolicy {
  resource: Resource;
  targets: z.infer<typeof targetRefsSchema>;
}

export interface BackendPolicy extends ParsedPolicy {
  overrides: ClusterOverrides;
}

export interface ClientPolicy extends ParsedPolicy {
  client: Partial<ClientSettings>;
}

function errorText(err: z.ZodError): string {
  return err.issues.map((i) => `spec.${i.path.join(".")}: ${i.message}`).join("; ");
}

const ms = (v: string | undefined) => (v === undefined ? undefined : parseDuration(v));

export function parseBackendPolicy(resource: Resource): BackendPolicy | string {
  const parsed = backendTrafficSpec.safeParse(resource.body["spec"]);
  if (!parsed.success) return errorText(parsed.error);
  const s = parsed.data;
  const o: ClusterOverrides = {};
  if (s.loadBalancer !== undefined) {
    const lb = s.loadBalancer;
    if (lb.type === "ConsistentHash") {
      const ch = lb.consistentHash;
      if (ch === undefined) return "spec.loadBalancer.consistentHash is required for type ConsistentHash";
      if (ch.type === "Header") {
        if (ch.header === undefined) return "spec.loadBalancer.consistentHash.header.name is required";
        o.loadBalancer = { type: "ConsistentHash", hashOn: { type: "Header", name: ch.header.name } };
      } else if (ch.type === "Cookie") {
        if (ch.cookie === undefined) return "spec.loadBalancer.consistentHash.cookie.name is required";
        o.loadBalancer = { type: "ConsistentHash", hashOn: { type: "Cookie", name: ch.cookie.name } };
      } else {
        o.loadBalancer = { type: "ConsistentHash", hashOn: { type: "SourceIP" } };
      }
    } else {
      o.loadBalancer = { type: lb.type };
    }
  }
  if (s.retry !== undefined) {
    const r = s.retry;
    o.retry = {
      ...(r.numRetries !== undefined && { attempts: r.numRetries }),
      ...(r.retryOn?.triggers !== undefined && { on: r.retryOn.triggers }),
      ...(r.retryOn?.httpStatusCodes !== undefined && { statusCodes: r.retryOn.httpStatusCodes }),
      ...(r.perRetry?.timeout !== undefined && { perTryTimeoutMs: ms(r.perRetry.timeout) }),
      ...(r.perRetry?.backOff?.baseInterval !== undefined && {
        backoffBaseMs: ms(r.perRetry.backOff.baseInterval),
      }),
      ...(r.perRetry?.backOff?.maxInterval !== undefined && {
        backoffMaxMs: ms(r.perRetry.backOff.maxInterval),
      }),
      ...(r.budgetPercent !== undefined && { budgetPercent: r.budgetPercent }),
    };
  }
  const passive = s.healthCheck?.passive;
  if (passive !== undefined) {
    o.outlier = {
      ...(passive.consecutiveErrors !== undefined && { consecutiveFailures: passive.consecutiveErrors }),
      ...(passive.baseEjectionTime !== undefined && { baseEjectionMs: ms(passive.baseEjectionTime) }),
      ...(passive.maxEjectionPercent !== undefined && { maxEjectionPercent: passive.maxEjectionPercent }),
    };
  }
  const cb = s.circuitBreaker;
  if (cb !== undefined) {
    o.circuitBreaker = {
      ...(cb.maxConnections !== undefined && { maxConnections: cb.maxConnections }),
      ...(cb.maxPendingRequests !== undefined && { maxPendingRequests: cb.maxPendingRequests }),
      ...(cb.maxParallelRequests !== undefined && { maxRequests: cb.maxParallelRequests }),
    };
  }
  if (s.timeout !== undefined) {
    o.timeouts = {
      ...(s.timeout.tcp?.connectTimeout !== undefined && { connectMs: ms(s.timeout.tcp.connectTimeout) }),
      ...(s.timeout.http?.connectionIdleTimeout !== undefined && {
        idleMs: ms(s.timeout.http.connectionIdleTimeout),
      }),
      ...(s.timeout.http?.requestTimeout !== undefined && {
        responseHeadMs: ms(s.timeout.http.requestTimeout),
      }),
    };
  }
  if (s.connection?.perEndpoint !== undefined) o.connectionsPerEndpoint = s.connection.perEndpoint;
  return { resource, targets: s.targetRefs, overrides: o };
}

export function parseClientPolicy(resource: Resource): ClientPolicy | string {
  const parsed = clientTrafficSpec.safeParse(resource.body["spec"]);
  if (!parsed.success) return errorText(parsed.error);
  const limits = parsed.data.clientLimits ?? {};
  const client: Partial<ClientSettings> = {};
  if (limits.maxHeaderBytes !== undefined) client.maxHeaderBytes = limits.maxHeaderBytes;
  if (limits.maxUrlBytes !== undefined) client.maxUrlBytes = limits.maxUrlBytes;
  if (limits.maxBodyBytes !== undefined) client.maxBodyBytes = limits.maxBodyBytes;
  return { resource, targets: parsed.data.targetRefs, client };
}

/** Does a policy in `policyNs` target the object `kind`/`name` in the same namespace? */
export function targets(policy: ParsedPolicy, kind: string, ns: string, name: string): boolean {
  return (
    policy.resource.metadata.namespace === ns &&
    policy.targets.some(
      (t) =>
        t.kind === kind &&
        t.name === name &&
        (t.group ?? "gateway.networking.k8s.io") === "gateway.networking.k8s.io",
    )
  );
}
