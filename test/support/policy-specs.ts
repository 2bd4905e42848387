// Generated meshgate policy specs that the validator should accept, one arbitrary per kind, each
// field present or not at random: the valid half of test/kube/crds.test.ts, and the base its
// mutations (json-mutations.ts) start from. "Should": the test asks the validator every time,
// so a generator that strays only shifts the counts.
import fc from "fast-check";
import { parseDuration } from "../../controller/translate/duration.js";

const GROUP = "gateway.networking.k8s.io";
const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,14}[a-z0-9]$/);
const headerName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/);
const positive = fc.oneof(fc.integer({ min: 1 }), fc.constant(Number.MAX_SAFE_INTEGER));
const natural = fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER));
const percent = fc.double({ min: 0, max: 100, noNaN: true, noDefaultInfinity: true });
const CIDRS = ["10.0.0.0/8", "192.168.1.0/24", "fc00::/7", "203.0.113.7/32", "::1/128", "0.0.0.0/0"];
const CIPHERS = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "[ECDHE-ECDSA-CHACHA20-POLY1305|ECDHE-RSA-CHACHA20-POLY1305]", "AES128-SHA"];

/** Gateway API Durations, one to four parts, most of them short. */
export const duration = fc
  .array(
    fc.tuple(fc.oneof(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 99 })), fc.constantFrom("h", "m", "s", "ms")),
    { minLength: 1, maxLength: 4 },
  )
  .filter((parts) => parts.reduce((ms, [n, unit]) => ms + n * { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[unit], 0) <= 2 ** 31 - 1)
  .map((parts) => parts.map(([n, unit]) => `${n}${unit}`).join(""));

const tenSeconds = fc.constantFrom("10s", "10000ms", "0h10s", "9s1000ms", "0m0s10s");

function targetRefs(kinds: readonly string[]) {
  return fc.array(
    fc.record(
      { group: fc.constant(GROUP), kind: fc.constantFrom(...kinds), name, sectionName: name },
      { requiredKeys: ["kind", "name"] },
    ),
    { minLength: 1, maxLength: 3 },
  );
}

const optional = <T extends Record<string, fc.Arbitrary<unknown>>>(fields: T) => fc.record(fields, { requiredKeys: [] });

const backOff = fc
  .tuple(duration, duration)
  .map(([a, b]) => ((parseDuration(a) ?? 0) <= (parseDuration(b) ?? 0) ? { baseInterval: a, maxInterval: b } : { baseInterval: b, maxInterval: a }));

export const backendTrafficSpec = fc.record(
  {
    targetRefs: targetRefs(["Gateway", "HTTPRoute"]),
    loadBalancer: fc.oneof(
      fc.record({ type: fc.constantFrom("RoundRobin", "LeastRequest", "Random") }),
      fc.record({
        type: fc.constant("ConsistentHash"),
        consistentHash: fc.oneof(
          fc.record({ type: fc.constant("SourceIP") }),
          fc.record({ type: fc.constant("Header"), header: fc.record({ name: headerName }) }),
          fc.record({ type: fc.constant("Cookie"), cookie: fc.record({ name }) }),
        ),
      }),
    ),
    retry: optional({
      numRetries: fc.integer({ min: 0, max: 10 }),
      retryOn: optional({
        triggers: fc.subarray(["connect-failure", "reset", "retriable-status-codes"]),
        httpStatusCodes: fc.array(fc.integer({ min: 100, max: 599 }), { maxLength: 4 }),
      }),
      // The base no longer than the max (the validator refuses the reverse; mutations try it).
      perRetry: optional({ timeout: duration, backOff }),
      budgetPercent: percent,
    }),
    healthCheck: optional({
      passive: optional({ consecutiveErrors: natural, baseEjectionTime: duration, maxEjectionTime: duration, maxEjectionPercent: percent }),
    }),
    circuitBreaker: optional({ maxConnections: positive, maxPendingRequests: natural, maxParallelRequests: positive }),
    timeout: optional({
      tcp: optional({ connectTimeout: duration }),
      http: optional({ requestTimeout: duration, connectionIdleTimeout: duration }),
    }),
    connection: optional({ perEndpoint: fc.integer({ min: 1, max: 4096 }) }),
    faultInjection: fc.oneof(
      fc.record({ delay: fc.record({ fixedDelay: duration, percentage: percent }, { requiredKeys: ["fixedDelay"] }) }),
      fc.record(
        {
          delay: fc.record({ fixedDelay: duration, percentage: percent }, { requiredKeys: ["fixedDelay"] }),
          abort: fc.record({ httpStatus: fc.integer({ min: 200, max: 599 }), percentage: percent }, { requiredKeys: ["httpStatus"] }),
        },
        { requiredKeys: ["abort"] },
      ),
    ),
  },
  { requiredKeys: ["targetRefs"] },
);

export const clientTrafficSpec = fc.record(
  {
    targetRefs: targetRefs(["Gateway"]),
    clientLimits: optional({ maxHeaderBytes: positive, maxUrlBytes: positive, maxBodyBytes: natural }),
    timeout: optional({ http: optional({ requestReceivedTimeout: tenSeconds, idleTimeout: tenSeconds }) }),
    proxyProtocol: optional({ optional: fc.constant(false), trustedCIDRs: fc.subarray(CIDRS, { minLength: 1 }) }),
    tls: fc.oneof(
      fc.record({ minVersion: fc.constant("1.3") }),
      optional({ minVersion: fc.constant("1.2"), ciphers: fc.subarray(CIPHERS, { minLength: 1 }) }),
    ),
    clientIPDetection: fc.record({ xForwardedFor: fc.record({ numTrustedHops: fc.integer({ min: 0, max: 16 }) }) }),
    path: optional({
      escapedSlashesAction: fc.constantFrom("KeepUnchanged", "RejectRequest", "UnescapeAndForward", "UnescapeAndRedirect"),
      disableMergeSlashes: fc.boolean(),
    }),
    http1: optional({ pipelining: fc.boolean() }),
  },
  { requiredKeys: ["targetRefs"] },
);

const headerSelector = fc.oneof(
  fc.record({ name: headerName, type: fc.constant("Exact"), value: fc.string({ maxLength: 8 }) }, { requiredKeys: ["name", "value"] }),
  fc.record({ name: headerName, type: fc.constant("RegularExpression"), value: fc.constantFrom("a+", "^v[0-9]+$", "(x|y)z?") }),
  fc.record({ name: headerName, type: fc.constant("Distinct") }),
);
const queryParam = fc.oneof(
  fc.record({ name, type: fc.constant("Exact"), value: fc.string({ maxLength: 8 }) }, { requiredKeys: ["name", "value"] }),
  fc.record({ name, type: fc.constant("Distinct") }),
);
const clientSelector = optional({
  headers: fc.array(headerSelector, { maxLength: 3 }),
  sourceCIDR: fc.record({ type: fc.constantFrom("Exact", "Distinct"), value: fc.constantFrom(...CIDRS, "10.1.2.3", "2001:db8::1") }, { requiredKeys: ["value"] }),
  method: fc.constantFrom("GET", "post", "Patch"),
  pathPrefix: fc.constantFrom("/", "/api", "/a/b"),
  queryParams: fc.array(queryParam, { maxLength: 2 }),
});

export const rateLimitSpec = fc.record(
  {
    targetRefs: targetRefs(["Gateway", "HTTPRoute"]),
    shared: fc.boolean(),
    rules: fc
      .array(
        fc.record(
          {
            named: fc.boolean(),
            clientSelectors: fc.array(clientSelector, { maxLength: 2 }),
            limit: fc.record({ requests: positive, unit: fc.constantFrom("Second", "Minute", "Hour", "Day") }),
            type: fc.constantFrom("Global", "Local"),
            cost: positive,
            failClosed: fc.boolean(),
          },
          { requiredKeys: ["named", "limit"] },
        ),
        { minLength: 1, maxLength: 3 },
      )
      // Names unique (the validator refuses twins): rule-N where asked for.
      .map((rules) => rules.map(({ named, ...rule }, i) => (named ? { name: `rule-${i}`, ...rule } : rule))),
  },
  { requiredKeys: ["targetRefs", "rules"] },
);

export const mirrorComparisonSpec = fc.record(
  {
    targetRefs: targetRefs(["HTTPRoute"]),
    headers: fc.array(headerName, { maxLength: 32 }),
    body: optional({ compare: fc.boolean(), maxBytes: fc.integer({ min: 1, max: 16 * 1024 * 1024 }) }),
    logPerMinute: fc.integer({ min: 0, max: 1000 }),
  },
  { requiredKeys: ["targetRefs"] },
);

export function acmeCertificateSpec(caBundle: string) {
  return fc.record(
    {
      targetRefs: targetRefs(["Gateway"]),
      acme: fc.record(
        {
          directory: fc.constantFrom("https://acme.example/directory", "https://127.0.0.1:14000/dir", "HTTPS://ca.example:8443/acme/directory"),
          email: fc.constantFrom("ops@example.com", "a.b+c@mail.example.org"),
          caBundle: fc.constant(caBundle),
        },
        { requiredKeys: ["directory"] },
      ),
    },
    { requiredKeys: ["targetRefs", "acme"] },
  );
}
