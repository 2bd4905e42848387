// The contract between the control plane and the data plane (see DESIGN.md).
// The gateway owns this schema; the controller translates its sources into it.
// A Snapshot is plain JSON data: validate it here before anything compiles it.
import { z } from "zod";
import { regexProblem } from "./linear-regex.js";
import { DEFAULT_TRUSTED_PROXY_CIDRS, parseCidr } from "./listener/cidr.js";
import { cipherEntryProblem } from "./tls/cipher-suites.js";

/**
 * The longest delay a Node timer holds: setTimeout clamps anything above 2^31-1 ms (24.8 days) to
 * 1 ms, so a longer timeout would fire at once. Every duration of the Snapshot stays under it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
const millis = z
  .number()
  .int()
  .nonnegative()
  .max(MAX_TIMER_MS, `must be at most ${MAX_TIMER_MS} ms (24.8 days), the longest delay a Node timer holds`);
const portNumber = z.number().int().min(1).max(65535);

/** A hostname pattern: exact ("a.example.com"), wildcard ("*.example.com"), or "*" for any. */
const hostPattern = z.string().min(1).max(253);

export const headerMatchSchema = z.object({
  type: z.enum(["Exact", "RegularExpression"]),
  /** Lower-case header name. */
  name: z.string().min(1),
  value: z.string(),
});

export const queryMatchSchema = z.object({
  type: z.enum(["Exact", "RegularExpression"]),
  name: z.string().min(1),
  value: z.string(),
});

export const pathMatchSchema = z.object({
  type: z.enum(["Exact", "PathPrefix", "RegularExpression"]),
  value: z.string().min(1),
});

/** One HTTPRoute match. Every present condition must hold. */
export const routeMatchSchema = z.object({
  path: pathMatchSchema,
  method: z.string().optional(),
  headers: z.array(headerMatchSchema).default([]),
  queryParams: z.array(queryMatchSchema).default([]),
});

/** RFC 9110 token: what a header name may be. */
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be an HTTP header name (a token)");
/** A field value: no control but tab, no DEL (a CR or LF would start a header, or a message, of its own). */
// eslint-disable-next-line no-control-regex -- finding control bytes is the point
const headerValue = z.string().regex(/^[^\x00-\x08\x0a-\x1f\x7f]*$/, "must not contain control characters");
const headerSetting = z.object({ name: headerName, value: headerValue });
/** A host a filter writes into Host or Location: RFC 1123 labels (Gateway API's PreciseHostname). */
const configHost = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i, "must be a host name");
/** A path a filter writes: visible ASCII only, as Gateway API's path values are. */
const configPath = z.string().regex(/^[\x21-\x7e]*$/, "must be visible ASCII (percent-encode anything else)");

export const headerModifierSchema = z.object({
  set: z.array(headerSetting).default([]),
  add: z.array(headerSetting).default([]),
  remove: z.array(headerName).default([]),
});

const pathModifierSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ReplaceFullPath"), replaceFullPath: configPath }),
  z.object({ type: z.literal("ReplacePrefixMatch"), replacePrefixMatch: configPath }),
]);

/**
 * The HTTPRoute CORS filter (Gateway API HTTPCORSFilter). Origins are "*", or
 * "scheme://host[:port]" where the host may start with "*." (any one or more labels).
 */
export const corsSchema = z.object({
  allowOrigins: z.array(z.string().min(1)).default([]),
  /** Method names, or ["*"] for any. */
  allowMethods: z.array(z.string().min(1)).default([]),
  /** Header names, or ["*"] for any. */
  allowHeaders: z.array(z.string().min(1)).default([]),
  exposeHeaders: z.array(z.string().min(1)).default([]),
  allowCredentials: z.boolean().default(false),
  /** Seconds a preflight answer may be cached (Access-Control-Max-Age); the spec's default is 5. */
  maxAgeSeconds: z.number().int().nonnegative().default(5),
});

export const filterSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("RequestHeaderModifier"), requestHeaderModifier: headerModifierSchema }),
  z.object({ type: z.literal("ResponseHeaderModifier"), responseHeaderModifier: headerModifierSchema }),
  z.object({
    type: z.literal("RequestRedirect"),
    requestRedirect: z.object({
      scheme: z.enum(["http", "https"]).optional(),
      hostname: configHost.optional(),
      port: portNumber.optional(),
      path: pathModifierSchema.optional(),
      statusCode: z
        .union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)])
        .default(302),
    }),
  }),
  z.object({
    type: z.literal("URLRewrite"),
    urlRewrite: z.object({ hostname: configHost.optional(), path: pathModifierSchema.optional() }),
  }),
  z.object({ type: z.literal("CORS"), cors: corsSchema }),
]);


/**
 * A weighted backend of a rule. `cluster` null means the reference could not be resolved:
 * the share of traffic it would have received is answered with 500, as the Gateway API asks.
 */
export const backendSchema = z.object({
  cluster: z.string().nullable(),
  weight: z.number().int().nonnegative(),
  filters: z.array(filterSchema).default([]),
});

/** A RequestMirror: a copy of a share (`probability`, 0..1) of the rule's requests goes to `cluster`. */
export const mirrorSchema = z.object({
  cluster: z.string(),
  probability: z.number().min(0).max(1).default(1),
});

/**
 * Shadow comparison (MirrorComparisonPolicy): each mirror's answer is compared with the primary's
 * by status, the named headers and, when `maxBodyBytes` > 0, a hash of bodies up to that size.
 */
export const mirrorCompareSchema = z.object({
  /** "namespace/name" of the policy, for logs. */
  policy: z.string().min(1),
  /** Lower-case response header names compared besides the status. */
  headers: z.array(z.string().min(1)).default([]),
  /** Bodies are hashed up to this size; a longer body is not compared. 0: bodies are not compared. */
  maxBodyBytes: z.number().int().nonnegative().default(1024 * 1024),
  /** Mismatches logged per route and minute; the rest are counted only. */
  logPerMinute: z.number().int().nonnegative().default(10),
});

/** A RateLimitPolicy client selector, in the shape gateway/ratelimit/rules.ts compiles. */
export const rateLimitSelectorSchema = z.union([
  z.object({ kind: z.literal("SourceCIDR"), type: z.enum(["Exact", "Distinct"]), value: z.string().min(1) }),
  z.object({
    kind: z.literal("Header"),
    name: z.string().min(1),
    type: z.enum(["Exact", "RegularExpression"]),
    value: z.string(),
  }),
  z.object({ kind: z.literal("Header"), name: z.string().min(1), type: z.literal("Distinct") }),
  z.object({ kind: z.literal("Method"), value: z.string().min(1) }),
  z.object({ kind: z.literal("PathPrefix"), value: z.string().min(1) }),
  z.object({ kind: z.literal("QueryParam"), name: z.string().min(1), type: z.literal("Exact"), value: z.string() }),
  z.object({ kind: z.literal("QueryParam"), name: z.string().min(1), type: z.literal("Distinct") }),
]);

/**
 * One rate limit rule on an action. `bucket` scopes the counters: the policy's "namespace/name"
 * when every route it targets shares one bucket, with the route appended otherwise.
 */
export const rateLimitSchema = z.object({
  /** "namespace/name" of the RateLimitPolicy, for metrics. */
  policy: z.string().min(1),
  bucket: z.string().min(1),
  /** The rule's name, or its index as a string. */
  id: z.string().min(1),
  selectors: z.array(rateLimitSelectorSchema).default([]),
  limit: z.object({
    requests: z.number().int().positive(),
    unit: z.enum(["Second", "Minute", "Hour", "Day"]),
  }),
  type: z.enum(["Global", "Local"]).default("Global"),
  cost: z.number().int().positive().optional(),
  failClosed: z.boolean().optional(),
});

/**
 * A rule's own retry (HTTPRoute spec.rules[].retry, GEP-1731). When present it decides for the
 * rule instead of the cluster's retry policy: only `codes` (and connection errors) are retried,
 * at most `attempts` times, `backoffMs` apart at least.
 */
export const routeRetrySchema = z.object({
  codes: z.array(z.number().int().min(400).max(599)).default([]),
  /** Retries after the first attempt. */
  attempts: z.number().int().nonnegative().max(100),
  backoffMs: millis.optional(),
});

/**
 * Fault injection (BackendTrafficPolicy faultInjection): a share of the action's requests is
 * delayed, and a share answered with `abort.status` without reaching a backend.
 */
export const faultSchema = z.object({
  /** "namespace/name" of the policy, for metrics. */
  policy: z.string().min(1),
  delay: z.object({ delayMs: millis, percentage: z.number().min(0).max(100) }).optional(),
  abort: z.object({ status: z.number().int().min(200).max(599), percentage: z.number().min(0).max(100) }).optional(),
});

/** What a matched rule does. Several match entries may point at one action. */
export const routeActionSchema = z.object({
  /** "namespace/name" of the HTTPRoute. */
  route: z.string(),
  /** The rule's name, or its index as a string. */
  rule: z.string(),
  filters: z.array(filterSchema).default([]),
  backends: z.array(backendSchema).default([]),
  mirrors: z.array(mirrorSchema).default([]),
  mirrorCompare: mirrorCompareSchema.optional(),
  /** 0 disables a timeout (as the Gateway API's "0s"); absent leaves the cluster's default. */
  timeouts: z.object({ requestMs: millis.optional(), backendRequestMs: millis.optional() }).default({}),
  retry: routeRetrySchema.optional(),
  fault: faultSchema.optional(),
  rateLimits: z.array(rateLimitSchema).default([]),
});

/**
 * One (route rule, match) pair with the hostnames it serves on its listener.
 * Entries arrive ordered by Gateway API precedence: the first one that matches wins.
 */
export const routeEntrySchema = z.object({
  /** Hostname patterns after intersection with the listener's; empty means any host. */
  hostnames: z.array(hostPattern).default([]),
  match: routeMatchSchema,
  /** Index into the listener's actions. */
  action: z.number().int().nonnegative(),
});

export const httpListenerSchema = z.object({
  /** "namespace/gateway/listener". */
  name: z.string(),
  gateway: z.string(),
  /** The listener's hostname; absent means every host. */
  hostname: hostPattern.optional(),
  entries: z.array(routeEntrySchema).default([]),
  actions: z.array(routeActionSchema).default([]),
});

/** An address range such as "10.0.0.0/8" or "fc00::/7", checked strictly (listener/cidr.ts). */
export const cidrBlock = z.string().superRefine((text, ctx) => {
  const parsed = parseCidr(text);
  if (!parsed.ok) ctx.addIssue({ code: "custom", message: `"${text}" ${parsed.reason}` });
});

export const clientSettingsSchema = z.object({
  maxHeaderBytes: z
    .number()
    .int()
    .positive()
    .default(16 * 1024),
  maxUrlBytes: z
    .number()
    .int()
    .positive()
    .default(8 * 1024),
  /** Request bodies above this get 413. 0 means unlimited. */
  maxBodyBytes: z.number().int().nonnegative().default(0),
  /** A client must send its whole request head within this time (uWS enforces a fixed 10 s). */
  headerTimeoutMs: millis.default(10_000),
  /** An idle keep-alive connection is closed after this time (uWS enforces a fixed 10 s). */
  idleTimeoutMs: millis.default(10_000),
  /** Every connection starts with a PROXY protocol header (v1 or v2) from a trusted balancer. */
  proxyProtocol: z.boolean().default(false),
  /**
   * Peers allowed to send that header (nginx's set_real_ip_from); a connection from any other
   * address is closed before a byte of it is read. The default holds no public address.
   */
  trustedProxyCIDRs: z.array(cidrBlock).min(1).default([...DEFAULT_TRUSTED_PROXY_CIDRS]),
  /** Proxies in front whose X-Forwarded-For entries are trusted (Envoy's xff_num_trusted_hops). */
  trustedHops: z.number().int().min(0).max(16).default(0),
  /**
   * What an encoded slash (%2F, %5C) in a path does (Envoy Gateway's escapedSlashesAction): kept
   * as sent (and matched as a slash), refused with 400, decoded and forwarded, or decoded and the
   * client redirected to the decoded path.
   */
  escapedSlashes: z.enum(["KeepUnchanged", "RejectRequest", "UnescapeAndForward", "UnescapeAndRedirect"]).default("KeepUnchanged"),
  /** Repeated slashes in a path become one before matching and forwarding. */
  mergeSlashes: z.boolean().default(true),
  /**
   * Stop reading a connection while its request waits for an answer, so a request pipelined
   * behind it is answered next instead of uWS closing the connection. Off by default: it costs
   * two epoll changes per request (README, "Request integrity").
   */
  pipelining: z.boolean().default(false),
});

/** A certificate with its private key, PEM; `name` is the Secret's "namespace/name". */
export const tlsCertificateSchema = z.object({
  name: z.string().min(1),
  certPem: z.string().min(1),
  keyPem: z.string().min(1),
});

/** One listener's TLS versions and suites (tls/cipher-suites.ts); absent: the defaults. */
export const tlsPolicySchema = z.object({
  /** "1.3": TLS 1.2 clients are refused. */
  minVersion: z.enum(["1.2", "1.3"]).default("1.2"),
  /** TLS 1.2 suites in BoringSSL's names (or "[A|B]" groups), in order; empty: the defaults. */
  ciphers: z
    .array(
      z.string().superRefine((entry, ctx) => {
        const problem = cipherEntryProblem(entry);
        if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
      }),
    )
    .default([]),
});

/** TLS termination on an HTTPS port: which certificate each SNI name gets. */
export const portTlsSchema = z.object({
  certificates: z.array(tlsCertificateSchema).min(1),
  /** Exact or "*."-wildcard server names, each with the name of its certificate. */
  serverNames: z
    .array(z.object({ hostname: hostPattern, certificate: z.string().min(1), policy: tlsPolicySchema.optional() }))
    .default([]),
  /** For clients without SNI or with a name not listed; absent: their handshake fails. */
  fallback: z.string().min(1).optional(),
  /** The TLS policy of handshakes served with the fallback certificate. */
  fallbackPolicy: tlsPolicySchema.optional(),
});

/**
 * A TLSRoute on a TLS port (or an HTTPS port that shares it by SNI): connections whose SNI matches
 * go to a backend. Passthrough pipes them still encrypted; Terminate ends TLS at the gateway with
 * `certificate` (a name in the port's tls.certificates, so redactSnapshot hides its key) and
 * pipes the decrypted bytes.
 */
export const passthroughRouteSchema = z.object({
  /** "namespace/name" of the TLSRoute. */
  name: z.string().min(1),
  /** Exact or "*."-wildcard names; empty: every name, and clients without SNI. */
  hostnames: z.array(hostPattern).default([]),
  backends: z.array(
    z.object({ address: z.string().min(1), port: portNumber, weight: z.number().int().nonnegative() }),
  ),
  mode: z.enum(["Passthrough", "Terminate"]).default("Passthrough"),
  /** Terminate only: the certificate the handshake presents. */
  certificate: z.string().min(1).optional(),
  /** Terminate only: TLS versions and suites of the handshake; absent: the defaults. */
  policy: tlsPolicySchema.optional(),
});

export const portSchema = z.object({
  port: portNumber,
  address: z.string().default("0.0.0.0"),
  /**
   * HTTP and HTTPS are served by uWebSockets.js; TLS ports pipe connections by SNI. An HTTPS port
   * with passthrough routes is shared: an SNI front pipes those and hands the rest to uWS.
   */
  protocol: z.enum(["HTTP", "HTTPS", "TLS"]),
  tls: portTlsSchema.optional(),
  passthrough: z.array(passthroughRouteSchema).optional(),
  /** Listeners sharing the port, most specific hostname first. */
  listeners: z.array(httpListenerSchema),
  client: clientSettingsSchema.default(clientSettingsSchema.parse({})),
});

export const endpointSchema = z.object({
  address: z.string().min(1),
  port: portNumber,
  weight: z.number().int().positive().default(1),
  /** Pod or zone identity for logs; optional. */
  name: z.string().optional(),
});

export const loadBalancerSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("RoundRobin") }),
  z.object({ type: z.literal("LeastRequest"), choices: z.number().int().min(2).default(2) }),
  z.object({ type: z.literal("Random") }),
  z.object({
    type: z.literal("ConsistentHash"),
    hashOn: z.discriminatedUnion("type", [
      z.object({ type: z.literal("Header"), name: z.string().min(1) }),
      z.object({ type: z.literal("Cookie"), name: z.string().min(1) }),
      z.object({ type: z.literal("SourceIP") }),
    ]),
  }),
]);

export const retrySchema = z.object({
  /** Retries after the first attempt. */
  attempts: z.number().int().nonnegative().default(2),
  /** connect-failure, reset, retriable-status-codes. */
  on: z
    .array(z.enum(["connect-failure", "reset", "retriable-status-codes"]))
    .default(["connect-failure", "reset", "retriable-status-codes"]),
  statusCodes: z.array(z.number().int().min(100).max(599)).default([503]),
  perTryTimeoutMs: millis.optional(),
  backoffBaseMs: millis.default(25),
  backoffMaxMs: millis.default(250),
  /** Retries may add at most this share of active requests (Envoy's retry budget). */
  budgetPercent: z.number().min(0).max(100).default(20),
  /** Retries always allowed regardless of the budget. */
  minRetryConcurrency: z.number().int().nonnegative().default(3),
});

export const outlierSchema = z.object({
  /** Consecutive failures (connect errors, resets, 5xx) before an endpoint is ejected. 0 disables. */
  consecutiveFailures: z.number().int().nonnegative().default(5),
  baseEjectionMs: millis.default(30_000),
  maxEjectionMs: millis.default(300_000),
  maxEjectionPercent: z.number().min(0).max(100).default(50),
});

export const circuitBreakerSchema = z.object({
  maxConnections: z.number().int().positive().default(1024),
  maxPendingRequests: z.number().int().nonnegative().default(1024),
  maxRequests: z.number().int().positive().default(1024),
});

export const clusterSchema = z.object({
  /** "namespace/service:port" (plus a policy suffix when a policy shapes it). */
  name: z.string().min(1),
  endpoints: z.array(endpointSchema).default([]),
  loadBalancer: loadBalancerSchema.default({ type: "RoundRobin" }),
  retry: retrySchema.default(retrySchema.parse({})),
  outlier: outlierSchema.default(outlierSchema.parse({})),
  circuitBreaker: circuitBreakerSchema.default(circuitBreakerSchema.parse({})),
  timeouts: z
    .object({
      connectMs: millis.default(5_000),
      /** An upstream connection idle this long is closed. */
      idleMs: millis.default(60_000),
      /**
       * When the route sets no timeout: how long to wait for the upstream's response head
       * (Envoy's route timeout is 15 s by default too). 0 disables.
       */
      responseHeadMs: millis.default(15_000),
    })
    .default({ connectMs: 5_000, idleMs: 60_000, responseHeadMs: 15_000 }),
  /** Upstream keep-alive connections per endpoint. */
  connectionsPerEndpoint: z.number().int().positive().default(64),
});

export const snapshotSchema = z.object({
  /** Increases with each Snapshot the controller produces. */
  version: z.number().int().nonnegative(),
  ports: z.array(portSchema).default([]),
  clusters: z.array(clusterSchema).default([]),
  /**
   * ACME HTTP-01 answers, token -> key authorization: every HTTP port serves them at
   * /.well-known/acme-challenge/<token> before any route, as the CA validates through them.
   */
  acmeChallenges: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), z.string()).default({}),
});

export type HeaderMatch = z.infer<typeof headerMatchSchema>;
export type QueryMatch = z.infer<typeof queryMatchSchema>;
export type PathMatch = z.infer<typeof pathMatchSchema>;
export type RouteMatch = z.infer<typeof routeMatchSchema>;
export type HeaderModifier = z.infer<typeof headerModifierSchema>;
export type Filter = z.infer<typeof filterSchema>;
export type Backend = z.infer<typeof backendSchema>;
export type RouteAction = z.infer<typeof routeActionSchema>;
export type RouteRetry = z.infer<typeof routeRetrySchema>;
export type FaultConfig = z.infer<typeof faultSchema>;
export type CorsConfig = z.infer<typeof corsSchema>;
export type RouteMirror = z.infer<typeof mirrorSchema>;
export type MirrorCompareConfig = z.infer<typeof mirrorCompareSchema>;
export type RateLimitConfig = z.infer<typeof rateLimitSchema>;
export type RouteEntry = z.infer<typeof routeEntrySchema>;
export type HttpListener = z.infer<typeof httpListenerSchema>;
export type ClientSettings = z.infer<typeof clientSettingsSchema>;
export type PortConfig = z.infer<typeof portSchema>;
export type PortTlsInput = z.input<typeof portTlsSchema>;
export type TlsPolicyInput = z.input<typeof tlsPolicySchema>;
export type PassthroughRouteInput = z.input<typeof passthroughRouteSchema>;

/** The Snapshot as the admin port shows it: private keys replaced, certificates kept. */
export function redactSnapshot(snapshot: Snapshot): Snapshot {
  return {
    ...snapshot,
    ports: snapshot.ports.map((p) =>
      p.tls === undefined
        ? p
        : { ...p, tls: { ...p.tls, certificates: p.tls.certificates.map((c) => ({ ...c, keyPem: "[redacted]" })) } },
    ),
  };
}
export type Endpoint = z.infer<typeof endpointSchema>;
export type LoadBalancerConfig = z.infer<typeof loadBalancerSchema>;
export type RetryConfig = z.infer<typeof retrySchema>;
export type OutlierConfig = z.infer<typeof outlierSchema>;
export type CircuitBreakerConfig = z.infer<typeof circuitBreakerSchema>;
export type Cluster = z.infer<typeof clusterSchema>;
export type Snapshot = z.infer<typeof snapshotSchema>;
/** What a producer may hand in: defaults filled by validation. */
export type SnapshotInput = z.input<typeof snapshotSchema>;
export type ClusterInput = z.input<typeof clusterSchema>;
export type PortInput = z.input<typeof portSchema>;

export type ValidationResult = { ok: true; snapshot: Snapshot } | { ok: false; errors: string[] };

/**
 * Validates shape and cross references (actions, clusters, regular expressions).
 * Returns readable reasons rather than throwing: a bad Snapshot is refused, never half applied.
 */
export function validateSnapshot(input: unknown): ValidationResult {
  const parsed = snapshotSchema.safeParse(input);
  if (!parsed.success) {
    return {
      ok: false,
      errors: parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
    };
  }
  const snapshot = parsed.data;
  const errors: string[] = [];
  const clusterNames = new Set<string>();
  for (const c of snapshot.clusters) {
    if (clusterNames.has(c.name)) errors.push(`clusters: duplicate cluster ${c.name}`);
    clusterNames.add(c.name);
  }
  const bound = new Set<string>();
  for (const [pi, p] of snapshot.ports.entries()) {
    const key = `${p.address}:${p.port}`;
    if (bound.has(key)) errors.push(`ports.${pi}: port ${key} appears twice`);
    bound.add(key);
    checkTls(p, `ports.${pi}`, errors);
    for (const [li, l] of p.listeners.entries()) {
      const where = `ports.${pi}.listeners.${li} (${l.name})`;
      for (const [ei, e] of l.entries.entries()) {
        if (e.action >= l.actions.length)
          errors.push(`${where}.entries.${ei}: action ${e.action} does not exist`);
        checkRegex(
          e.match.path.type === "RegularExpression" ? e.match.path.value : undefined,
          `${where}.entries.${ei}.path`,
          errors,
        );
        for (const h of e.match.headers) {
          if (h.type === "RegularExpression")
            checkRegex(h.value, `${where}.entries.${ei}.headers.${h.name}`, errors);
        }
        for (const q of e.match.queryParams) {
          if (q.type === "RegularExpression")
            checkRegex(q.value, `${where}.entries.${ei}.queryParams.${q.name}`, errors);
        }
      }
      for (const [ai, a] of l.actions.entries()) {
        for (const b of a.backends) {
          if (b.cluster !== null && !clusterNames.has(b.cluster)) {
            errors.push(`${where}.actions.${ai}: cluster ${b.cluster} does not exist`);
          }
          // A preflight is answered before a backend is chosen: CORS belongs to the action.
          if (b.filters.some((f) => f.type === "CORS"))
            errors.push(`${where}.actions.${ai}: a CORS filter applies to the action, not to one backend`);
        }
        for (const m of a.mirrors) {
          if (!clusterNames.has(m.cluster))
            errors.push(`${where}.actions.${ai}: mirror cluster ${m.cluster} does not exist`);
        }
        for (const [ri, r] of a.rateLimits.entries())
          for (const [si, sel] of r.selectors.entries())
            if (sel.kind === "Header" && sel.type === "RegularExpression")
              checkRegex(sel.value, `${where}.actions.${ai}.rateLimits.${ri}.selectors.${si}`, errors);
      }
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, snapshot };
}

function checkTls(p: PortConfig, where: string, errors: string[]): void {
  if (p.protocol === "TLS") {
    if (p.passthrough === undefined) errors.push(`${where}: a TLS port needs passthrough routes`);
    if (p.listeners.length > 0) errors.push(`${where}: a TLS port has no HTTP listeners`);
    if (p.tls !== undefined && (p.tls.serverNames.length > 0 || p.tls.fallback !== undefined))
      errors.push(`${where}.tls: a TLS port's certificates serve its Terminate routes only; serverNames and fallback belong to HTTPS ports`);
  } else {
    if (p.passthrough !== undefined && p.protocol !== "HTTPS")
      errors.push(`${where}: passthrough routes need a TLS port, or an HTTPS port that shares them`);
    if (p.protocol === "HTTP") {
      if (p.tls !== undefined) errors.push(`${where}: an HTTP port has no tls`);
      return;
    }
    if (p.tls === undefined) {
      errors.push(`${where}: an HTTPS port needs tls`);
      return;
    }
  }
  const names = new Set(p.tls?.certificates.map((c) => c.name));
  if (p.tls !== undefined) {
    if (names.size !== p.tls.certificates.length) errors.push(`${where}.tls: duplicate certificate names`);
    for (const s of p.tls.serverNames)
      if (!names.has(s.certificate)) errors.push(`${where}.tls: ${s.hostname} names a missing certificate`);
    if (p.tls.fallback !== undefined && !names.has(p.tls.fallback))
      errors.push(`${where}.tls: the fallback names a missing certificate`);
  }
  for (const [ri, r] of (p.passthrough ?? []).entries()) {
    const route = `${where}.passthrough.${ri} (${r.name})`;
    if (r.mode === "Passthrough") {
      if (r.certificate !== undefined || r.policy !== undefined)
        errors.push(`${route}: a Passthrough route has no certificate or policy; the backend ends TLS`);
    } else if (r.certificate === undefined) {
      errors.push(`${route}: a Terminate route needs a certificate`);
    } else if (!names.has(r.certificate)) {
      errors.push(`${route}: certificate ${r.certificate} is not in the port's tls.certificates`);
    }
  }
}

/** User patterns are RE2 syntax, matched in linear time (linear-regex.ts); the controller checks with the same. */
export { regexProblem };

function checkRegex(source: string | undefined, where: string, errors: string[]): void {
  if (source === undefined) return;
  const problem = regexProblem(source);
  if (problem !== undefined) errors.push(`${where}: invalid regular expression ${JSON.stringify(source)}: ${problem}`);
}
