// meshgate's policy kinds (meshgate.io/v1alpha1) in Envoy Gateway's shape, checked strictly (a
// misspelt field is an error, not a silent default) and mapped onto the Snapshot's cluster and
// port settings.
import { createHash, X509Certificate } from "node:crypto";
import { z } from "zod";
import { pemBlocks } from "../../certs/pem.js";
import { isIP } from "node:net";
import {
  cidrBlock,
  type ClusterInput,
  type FaultConfig,
  type MirrorCompareConfig,
  type PortInput,
  type RateLimitConfig,
  regexProblem,
  type TlsPolicyInput,
  tlsPolicySchema,
} from "../../gateway/snapshot.js";
import { GATEWAY_GROUP, issuesText } from "../resources/index.js";
import { parseDuration, timeoutProblem } from "./duration.js";

/**
 * uWebSockets.js 20.30 fixes the request-head and keep-alive idle timeouts at 10 s; a policy
 * asking for another value is refused with that reason rather than silently ignored.
 */
export const fixedTenSeconds = z.string().transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms !== 10_000) {
    ctx.addIssue({ code: "custom", message: `"${v}": only 10s is supported (uWebSockets.js fixes this timeout at 10 s)` });
    return z.NEVER;
  }
  return ms;
});

export const durationMs = z.string().transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: "custom", message: `"${v}" is not a duration (e.g. 250ms, 5s, 1m)` });
    return z.NEVER;
  }
  const tooLong = timeoutProblem(v, ms);
  if (tooLong !== undefined) {
    ctx.addIssue({ code: "custom", message: tooLong });
    return z.NEVER;
  }
  return ms;
});

/** What each policy kind may target (all of group gateway.networking.k8s.io); its CRD enumerates them too. */
export const POLICY_TARGET_KINDS = {
  BackendTrafficPolicy: ["Gateway", "HTTPRoute"],
  ClientTrafficPolicy: ["Gateway"],
  RateLimitPolicy: ["Gateway", "HTTPRoute"],
  MirrorComparisonPolicy: ["HTTPRoute"],
  AcmeCertificatePolicy: ["Gateway"],
} as const satisfies Record<string, readonly string[]>;

const targetRef = (kinds: readonly string[]) =>
  z
    .strictObject({
      group: z.string().default(GATEWAY_GROUP),
      kind: z.string(),
      name: z.string().min(1),
      sectionName: z.string().min(1).optional(),
    })
    .refine((t) => t.group === GATEWAY_GROUP && kinds.includes(t.kind), {
      message: `a target must be a ${kinds.join(" or ")} of ${GATEWAY_GROUP}`,
    });

/** Envoy Gateway's FaultInjection percentage: 0..100, default 100 (every request). */
const faultPercentage = z.number().min(0).max(100).default(100);

const faultInjection = z
  .strictObject({
    delay: z.strictObject({ fixedDelay: durationMs, percentage: faultPercentage }).optional(),
    abort: z
      .strictObject({
        httpStatus: z.number().int().min(200).max(599).optional(),
        grpcStatus: z.unknown().optional(),
        percentage: faultPercentage,
      })
      .refine((a) => a.grpcStatus === undefined, { message: "grpcStatus is not supported (give httpStatus)" })
      .refine((a) => a.httpStatus !== undefined, { message: "httpStatus is required" })
      .optional(),
  })
  .refine((f) => f.delay !== undefined || f.abort !== undefined, { message: "give delay, abort or both" });

export const backendTrafficSpec = z.strictObject({
  targetRefs: z.array(targetRef(POLICY_TARGET_KINDS.BackendTrafficPolicy)).min(1),
  loadBalancer: z
    .strictObject({
      type: z.enum(["RoundRobin", "LeastRequest", "Random", "ConsistentHash"]),
      consistentHash: z
        .strictObject({
          type: z.enum(["Header", "Cookie", "SourceIP"]),
          header: z.strictObject({ name: z.string().min(1) }).optional(),
          cookie: z.strictObject({ name: z.string().min(1) }).optional(),
        })
        .optional(),
    })
    .optional(),
  retry: z
    .strictObject({
      numRetries: z.number().int().min(0).max(10).optional(),
      retryOn: z
        .strictObject({
          triggers: z.array(z.enum(["connect-failure", "reset", "retriable-status-codes"])).optional(),
          httpStatusCodes: z.array(z.number().int().min(100).max(599)).optional(),
        })
        .optional(),
      perRetry: z
        .strictObject({
          timeout: durationMs.optional(),
          backOff: z
            .strictObject({ baseInterval: durationMs.optional(), maxInterval: durationMs.optional() })
            .optional(),
        })
        .optional(),
      budgetPercent: z.number().min(0).max(100).optional(),
    })
    .optional(),
  healthCheck: z
    .strictObject({
      passive: z
        .strictObject({
          consecutiveErrors: z.number().int().min(0).optional(),
          baseEjectionTime: durationMs.optional(),
          maxEjectionTime: durationMs.optional(),
          maxEjectionPercent: z.number().min(0).max(100).optional(),
        })
        .optional(),
    })
    .optional(),
  circuitBreaker: z
    .strictObject({
      maxConnections: z.number().int().positive().optional(),
      maxPendingRequests: z.number().int().min(0).optional(),
      maxParallelRequests: z.number().int().positive().optional(),
    })
    .optional(),
  timeout: z
    .strictObject({
      tcp: z.strictObject({ connectTimeout: durationMs.optional() }).optional(),
      http: z
        .strictObject({ requestTimeout: durationMs.optional(), connectionIdleTimeout: durationMs.optional() })
        .optional(),
    })
    .optional(),
  connection: z.strictObject({ perEndpoint: z.number().int().positive().max(4096).optional() }).optional(),
  faultInjection: faultInjection.optional(),
});

export const clientTrafficSpec = z.strictObject({
  targetRefs: z.array(targetRef(POLICY_TARGET_KINDS.ClientTrafficPolicy)).min(1),
  clientLimits: z
    .strictObject({
      maxHeaderBytes: z.number().int().positive().optional(),
      maxUrlBytes: z.number().int().positive().optional(),
      maxBodyBytes: z.number().int().min(0).optional(),
    })
    .optional(),
  timeout: z
    .strictObject({
      http: z
        .strictObject({ requestReceivedTimeout: fixedTenSeconds.optional(), idleTimeout: fixedTenSeconds.optional() })
        .optional(),
    })
    .optional(),
  // Envoy Gateway's shape. The header is required: accepting connections without one would let
  // any client that reaches the port directly claim any address. So would accepting it from any
  // peer: only trustedCIDRs may send it (default: loopback and private ranges, gateway/snapshot.ts).
  proxyProtocol: z
    .strictObject({
      optional: z.literal(false, "only false: the PROXY header is required").optional(),
      trustedCIDRs: z.array(cidrBlock).min(1, "must name at least one range (omit it for the default ranges)").optional(),
    })
    .optional(),
  // Envoy Gateway's shape, for the HTTPS listeners the policy reaches. uWebSockets.js 20.30 has
  // no TLS 1.0 or 1.1 and no TLS 1.3 suite setting (BoringSSL offers all three).
  tls: z
    .strictObject({
      minVersion: z.enum(["1.2", "1.3"], 'must be "1.2" or "1.3" (TLS 1.0 and 1.1 are never offered)').optional(),
      ciphers: tlsPolicySchema.shape.ciphers.unwrap().min(1).optional(),
    })
    .refine((t) => t.minVersion !== "1.3" || t.ciphers === undefined, {
      message: "ciphers sets TLS 1.2 suites; with minVersion 1.3 there are none to choose (BoringSSL fixes TLS 1.3's)",
    })
    .optional(),
  clientIPDetection: z
    .strictObject({
      xForwardedFor: z.strictObject({ numTrustedHops: z.number().int().min(0).max(16) }),
    })
    .optional(),
  path: z
    .strictObject({
      escapedSlashesAction: z.enum(["KeepUnchanged", "RejectRequest", "UnescapeAndForward", "UnescapeAndRedirect"]).optional(),
      disableMergeSlashes: z.boolean().optional(),
    })
    .optional(),
  // Envoy Gateway's http1 block; pipelining is meshgate's (uWS 20.30 needs reading paused for it).
  http1: z.strictObject({ pipelining: z.boolean().optional() }).optional(),
});

export const acmeCertificateSpec = z.strictObject({
  targetRefs: z.array(targetRef(POLICY_TARGET_KINDS.AcmeCertificatePolicy)).min(1),
  acme: z.strictObject({
    directory: z.string().refine(isHttpsUrl, "must be the https:// URL of an ACME directory"),
    email: z
      .string()
      .regex(/^[^\s@<>:]+@[^\s@<>:]+\.[^\s@<>:]+$/, "must be an email address")
      .optional(),
    caBundle: z.string().superRefine(checkCertificateBundle).optional(),
  }),
});

function isHttpsUrl(text: string): boolean {
  try {
    return new URL(text).protocol === "https:";
  } catch {
    return false;
  }
}

// A bundle is quoted nowhere: a key pasted here by mistake must not end up in the status.
function checkCertificateBundle(text: string, ctx: z.RefinementCtx): void {
  const blocks = pemBlocks(text);
  const problem =
    blocks.length === 0
      ? "holds no PEM block (-----BEGIN CERTIFICATE-----)"
      : blocks.some((b) => b.label !== "CERTIFICATE")
        ? "may hold CERTIFICATE blocks only"
        : blocks.some((b) => !parsesAsCertificate(b.text))
          ? "holds a CERTIFICATE block that does not parse"
          : undefined;
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
}

function parsesAsCertificate(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

// RE2 syntax, as the data plane matches it (a pattern it refuses would refuse the whole Snapshot).
const regularExpression = z.string().superRefine((source, ctx) => {
  const problem = regexProblem(source);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: `invalid regular expression: ${problem}` });
});

const cidr = z.string().refine((text) => {
  const [network = "", prefix, extra] = text.split("/");
  const family = isIP(network);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d{1,3}$/.test(prefix) && bits <= (family === 4 ? 32 : 128);
}, "must be an IP address or CIDR block (e.g. 10.0.0.0/8)");

// Every field of a selector must hold; every selector of a rule must hold.
const clientSelector = z.strictObject({
  headers: z
    .array(
      z.union([
        z.strictObject({ name: z.string().min(1), type: z.literal("Exact").default("Exact"), value: z.string() }),
        z.strictObject({ name: z.string().min(1), type: z.literal("RegularExpression"), value: regularExpression }),
        z.strictObject({ name: z.string().min(1), type: z.literal("Distinct") }),
      ]),
    )
    .optional(),
  sourceCIDR: z.strictObject({ type: z.enum(["Exact", "Distinct"]).default("Exact"), value: cidr }).optional(),
  method: z.string().regex(/^[A-Za-z]+$/, "must be an HTTP method").optional(),
  pathPrefix: z.string().startsWith("/", 'must start with "/"').optional(),
  queryParams: z
    .array(
      z.union([
        z.strictObject({ name: z.string().min(1), type: z.literal("Exact").default("Exact"), value: z.string() }),
        z.strictObject({ name: z.string().min(1), type: z.literal("Distinct") }),
      ]),
    )
    .optional(),
});

export const rateLimitSpec = z.strictObject({
  targetRefs: z.array(targetRef(POLICY_TARGET_KINDS.RateLimitPolicy)).min(1),
  /** One bucket for every route the policy reaches; by default each route counts on its own. */
  shared: z.boolean().default(false),
  rules: z
    .array(
      z.strictObject({
        name: z.string().min(1).optional(),
        clientSelectors: z.array(clientSelector).default([]),
        limit: z.strictObject({
          requests: z.number().int().positive(),
          unit: z.enum(["Second", "Minute", "Hour", "Day"]),
        }),
        type: z.enum(["Global", "Local"]).default("Global"),
        cost: z.number().int().positive().optional(),
        failClosed: z.boolean().optional(),
      }),
    )
    .min(1),
});

export interface PolicyTarget {
  kind: string;
  name: string;
  sectionName?: string;
}

export type ClusterSettings = Omit<ClusterInput, "name" | "endpoints">;
export type FaultSettings = Omit<FaultConfig, "policy">;
/**
 * A BackendTrafficPolicy: settings of the clusters it shapes, and a fault for the route actions
 * it reaches (a property of the action: the same cluster may serve rules the policy does not reach).
 */
export type BackendTrafficSettings = ClusterSettings & { fault?: FaultSettings };
export type ClientSettingsInput = NonNullable<PortInput["client"]>;

/** A ClientTrafficPolicy: settings of the ports it reaches, and the TLS policy of its HTTPS listeners. */
export interface ClientPolicySettings {
  client: ClientSettingsInput;
  tls?: TlsPolicyInput;
}

export type Parsed<T> = { ok: true; targets: PolicyTarget[]; settings: T } | { ok: false; message: string };

/** Drops undefined values so that the Snapshot's defaults fill them. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function targetsOf(refs: { kind: string; name: string; sectionName?: string | undefined }[]): PolicyTarget[] {
  return refs.map((t) => defined({ kind: t.kind, name: t.name, sectionName: t.sectionName }));
}

export function parseBackendTrafficPolicy(spec: unknown): Parsed<BackendTrafficSettings> {
  const parsed = backendTrafficSpec.safeParse(spec ?? {});
  if (!parsed.success) return { ok: false, message: issuesText(parsed.error, "spec") };
  const s = parsed.data;
  const settings: BackendTrafficSettings = {};
  const lb = s.loadBalancer;
  if (lb !== undefined) {
    if (lb.type !== "ConsistentHash") settings.loadBalancer = { type: lb.type };
    else {
      const ch = lb.consistentHash;
      if (ch === undefined)
        return { ok: false, message: "spec.loadBalancer.consistentHash: required for ConsistentHash" };
      if (ch.type === "SourceIP")
        settings.loadBalancer = { type: "ConsistentHash", hashOn: { type: "SourceIP" } };
      else {
        const name = ch.type === "Header" ? ch.header?.name : ch.cookie?.name;
        const field = ch.type === "Header" ? "header" : "cookie";
        if (name === undefined)
          return {
            ok: false,
            message: `spec.loadBalancer.consistentHash.${field}.name: required for type ${ch.type}`,
          };
        settings.loadBalancer = { type: "ConsistentHash", hashOn: { type: ch.type, name } };
      }
    }
  }
  const r = s.retry;
  if (r !== undefined) {
    const backOff = r.perRetry?.backOff;
    if (
      backOff?.baseInterval !== undefined &&
      backOff.maxInterval !== undefined &&
      backOff.baseInterval > backOff.maxInterval
    )
      return { ok: false, message: "spec.retry.perRetry.backOff: baseInterval is longer than maxInterval" };
    settings.retry = defined({
      attempts: r.numRetries,
      on: r.retryOn?.triggers,
      statusCodes: r.retryOn?.httpStatusCodes,
      perTryTimeoutMs: r.perRetry?.timeout,
      backoffBaseMs: backOff?.baseInterval,
      backoffMaxMs: backOff?.maxInterval,
      budgetPercent: r.budgetPercent,
    });
  }
  const passive = s.healthCheck?.passive;
  if (passive !== undefined) {
    settings.outlier = defined({
      consecutiveFailures: passive.consecutiveErrors,
      baseEjectionMs: passive.baseEjectionTime,
      maxEjectionMs: passive.maxEjectionTime,
      maxEjectionPercent: passive.maxEjectionPercent,
    });
  }
  const cb = s.circuitBreaker;
  if (cb !== undefined) {
    settings.circuitBreaker = defined({
      maxConnections: cb.maxConnections,
      maxPendingRequests: cb.maxPendingRequests,
      maxRequests: cb.maxParallelRequests,
    });
  }
  if (s.timeout !== undefined) {
    settings.timeouts = defined({
      connectMs: s.timeout.tcp?.connectTimeout,
      idleMs: s.timeout.http?.connectionIdleTimeout,
      responseHeadMs: s.timeout.http?.requestTimeout,
    });
  }
  if (s.connection?.perEndpoint !== undefined) settings.connectionsPerEndpoint = s.connection.perEndpoint;
  const fault = s.faultInjection;
  if (fault !== undefined) {
    const { delay, abort } = fault;
    settings.fault = defined({
      delay: delay === undefined ? undefined : { delayMs: delay.fixedDelay, percentage: delay.percentage },
      abort: abort?.httpStatus === undefined ? undefined : { status: abort.httpStatus, percentage: abort.percentage },
    });
  }
  return { ok: true, targets: targetsOf(s.targetRefs), settings };
}

export function parseClientTrafficPolicy(spec: unknown): Parsed<ClientPolicySettings> {
  const parsed = clientTrafficSpec.safeParse(spec ?? {});
  if (!parsed.success) return { ok: false, message: issuesText(parsed.error, "spec") };
  const s = parsed.data;
  const client = defined({
    maxHeaderBytes: s.clientLimits?.maxHeaderBytes,
    maxUrlBytes: s.clientLimits?.maxUrlBytes,
    maxBodyBytes: s.clientLimits?.maxBodyBytes,
    headerTimeoutMs: s.timeout?.http?.requestReceivedTimeout,
    idleTimeoutMs: s.timeout?.http?.idleTimeout,
    proxyProtocol: s.proxyProtocol === undefined ? undefined : true,
    trustedProxyCIDRs: s.proxyProtocol?.trustedCIDRs,
    trustedHops: s.clientIPDetection?.xForwardedFor.numTrustedHops,
    escapedSlashes: s.path?.escapedSlashesAction,
    mergeSlashes: s.path?.disableMergeSlashes === undefined ? undefined : !s.path.disableMergeSlashes,
    pipelining: s.http1?.pipelining,
  });
  const tls = s.tls === undefined ? undefined : defined({ minVersion: s.tls.minVersion, ciphers: s.tls.ciphers });
  return { ok: true, targets: targetsOf(s.targetRefs), settings: tls === undefined ? { client } : { client, tls } };
}

/** An ACME account as an AcmeCertificatePolicy names it. */
export interface AcmeIssuerSettings {
  /**
   * A short hash of directory, email and caBundle: policies naming the same account share one
   * id, hence one certificate manager and one state folder.
   */
  id: string;
  directory: string;
  email?: string;
  caBundle?: string;
}

export function parseAcmeCertificatePolicy(spec: unknown): Parsed<AcmeIssuerSettings> {
  const parsed = acmeCertificateSpec.safeParse(spec ?? {});
  if (!parsed.success) return { ok: false, message: issuesText(parsed.error, "spec") };
  const { directory, email, caBundle } = parsed.data.acme;
  const id = createHash("sha256")
    .update(JSON.stringify([directory, email ?? "", caBundle?.trim() ?? ""]))
    .digest("hex")
    .slice(0, 16);
  return { ok: true, targets: targetsOf(parsed.data.targetRefs), settings: defined({ id, directory, email, caBundle }) };
}

export type RateLimitRule = Omit<RateLimitConfig, "policy" | "bucket">;

export interface RateLimitSettings {
  shared: boolean;
  rules: RateLimitRule[];
}

export function parseRateLimitPolicy(spec: unknown): Parsed<RateLimitSettings> {
  const parsed = rateLimitSpec.safeParse(spec ?? {});
  if (!parsed.success) return { ok: false, message: issuesText(parsed.error, "spec") };
  const names = new Set<string>();
  const rules: RateLimitRule[] = [];
  for (const [index, r] of parsed.data.rules.entries()) {
    const id = r.name ?? String(index);
    if (names.has(id)) return { ok: false, message: `spec.rules[${index}].name: "${id}" is used twice` };
    names.add(id);
    const selectors: RateLimitRule["selectors"] = [];
    for (const s of r.clientSelectors) {
      for (const h of s.headers ?? []) selectors.push({ kind: "Header", ...h });
      if (s.sourceCIDR !== undefined) selectors.push({ kind: "SourceCIDR", ...s.sourceCIDR });
      if (s.method !== undefined) selectors.push({ kind: "Method", value: s.method.toUpperCase() });
      if (s.pathPrefix !== undefined) selectors.push({ kind: "PathPrefix", value: s.pathPrefix });
      for (const q of s.queryParams ?? []) selectors.push({ kind: "QueryParam", ...q });
    }
    rules.push(
      defined({ id, selectors, limit: r.limit, type: r.type, cost: r.cost, failClosed: r.failClosed }),
    );
  }
  return { ok: true, targets: targetsOf(parsed.data.targetRefs), settings: { shared: parsed.data.shared, rules } };
}

export const mirrorComparisonSpec = z.strictObject({
  targetRefs: z.array(targetRef(POLICY_TARGET_KINDS.MirrorComparisonPolicy)).min(1),
  /** Response headers compared besides the status. */
  headers: z
    .array(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be an HTTP header name"))
    .max(32)
    .default([]),
  body: z
    .strictObject({
      /** Compare a SHA-256 of each body (default true). */
      compare: z.boolean().default(true),
      /** Bodies longer than this are not compared (default 1 MiB, at most 16 MiB). */
      maxBytes: z.number().int().positive().max(16 * 1024 * 1024).default(1024 * 1024),
    })
    .default({ compare: true, maxBytes: 1024 * 1024 }),
  /** Mismatches logged per route and minute (default 10); every one is counted in metrics. */
  logPerMinute: z.number().int().nonnegative().max(1000).default(10),
});

export type MirrorCompareSettings = Omit<MirrorCompareConfig, "policy">;

export function parseMirrorComparisonPolicy(spec: unknown): Parsed<MirrorCompareSettings> {
  const parsed = mirrorComparisonSpec.safeParse(spec ?? {});
  if (!parsed.success) return { ok: false, message: issuesText(parsed.error, "spec") };
  const { headers, body, logPerMinute } = parsed.data;
  return {
    ok: true,
    targets: targetsOf(parsed.data.targetRefs),
    settings: {
      headers: [...new Set(headers.map((h) => h.toLowerCase()))],
      maxBodyBytes: body.compare ? body.maxBytes : 0,
      logPerMinute,
    },
  };
}
