// meshgate reads Gateway API objects with schemas of its own (controller/resources). In a cluster
// the API server has already judged each object against the upstream CRDs; an object the CRD
// admits but meshgate's schema refused would be left out of translation (a route silently gone
// from the data plane). Generated HTTPRoutes, TLSRoutes and Gateways are sent to the real API
// server as dry-run creates with strict field validation, and every one it admits, as it would
// store it (defaults filled), must parse with meshgate's schema.
import test from "ava";
import fc from "fast-check";
import { KubeClient, KubeApiError } from "../../controller/provider/kubernetes/client.js";
import { parseObject } from "../../controller/resources/index.js";
import { fcSeed } from "../support/fc-seed.js";
import { sharedKubeApiServer, stopSharedKubeApiServer, testNamespace } from "./shared.js";

const FIRST_USE_MS = 95 * 60_000;
const RUNS = 150;

test.after.always(stopSharedKubeApiServer);

const dnsLabel = fc.stringMatching(/^[a-z]([a-z0-9-]{0,8}[a-z0-9])?$/);
const hostname = fc.oneof(
  fc.tuple(dnsLabel, dnsLabel).map(([a, b]) => `${a}.${b}.example`),
  dnsLabel.map((a) => `*.${a}.example`),
);
const pathValue = fc.stringMatching(/^\/[a-zA-Z0-9._~!$&'()*+,;=:@/-]{0,20}$/);
const headerName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/);
const headerValue = fc.stringMatching(/^[!-~][ -~]{0,19}$/);
/** timeouts: backendRequest never longer than request (the CRD's rule), either may be left out. */
const timeouts = fc
  .tuple(fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 1, max: 60_000 }), fc.constantFrom("both", "request", "backendRequest"))
  .map(([a, b, which]) => {
    const [request, backend] = [Math.max(a, b), Math.min(a, b)];
    if (which === "request") return { request: `${request}ms` };
    if (which === "backendRequest") return { backendRequest: `${backend}ms` };
    return { request: `${request}ms`, backendRequest: `${backend}ms` };
  });
const parentRef = fc.record(
  { name: dnsLabel, sectionName: dnsLabel, port: fc.integer({ min: 1, max: 65535 }) },
  { requiredKeys: ["name"] },
);
const backendRef = fc.record(
  { name: dnsLabel, port: fc.integer({ min: 1, max: 65535 }), weight: fc.integer({ min: 0, max: 1_000_000 }) },
  { requiredKeys: ["name", "port"] },
);
const headerMod = fc.record(
  {
    set: fc.uniqueArray(fc.record({ name: headerName, value: headerValue }), { maxLength: 3, selector: (h) => h.name.toLowerCase() }),
    add: fc.uniqueArray(fc.record({ name: headerName, value: headerValue }), { maxLength: 3, selector: (h) => h.name.toLowerCase() }),
    remove: fc.uniqueArray(headerName, { maxLength: 3, selector: (h) => h.toLowerCase() }),
  },
  { requiredKeys: [] },
);
const filter = fc.oneof(
  headerMod.map((m) => ({ type: "RequestHeaderModifier", requestHeaderModifier: m })),
  headerMod.map((m) => ({ type: "ResponseHeaderModifier", responseHeaderModifier: m })),
  fc
    .record(
      { scheme: fc.constantFrom("http", "https"), hostname: fc.tuple(dnsLabel, dnsLabel).map(([a, b]) => `${a}.${b}`), port: fc.integer({ min: 1, max: 65535 }), statusCode: fc.constantFrom(301, 302) },
      { requiredKeys: [] },
    )
    .map((r) => ({ type: "RequestRedirect", requestRedirect: r })),
  fc.record({ path: fc.oneof(pathValue.map((v) => ({ type: "ReplaceFullPath", replaceFullPath: v }))) }, { requiredKeys: [] }).map((u) => ({ type: "URLRewrite", urlRewrite: u })),
  fc.record({ name: dnsLabel, port: fc.integer({ min: 1, max: 65535 }) }).map((b) => ({ type: "RequestMirror", requestMirror: { backendRef: b } })),
);
const match = fc.record(
  {
    path: fc.oneof(
      fc.record({ type: fc.constantFrom("Exact", "PathPrefix"), value: pathValue }),
      fc.record({ type: fc.constant("RegularExpression"), value: fc.constantFrom("/api/v[0-9]+", ".*", "/a|/b") }),
    ),
    headers: fc.uniqueArray(fc.record({ name: headerName, value: headerValue }), { maxLength: 3, selector: (h) => h.name.toLowerCase() }),
    queryParams: fc.uniqueArray(fc.record({ name: headerName, value: headerValue }), { maxLength: 2, selector: (h) => h.name }),
    method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"),
  },
  { requiredKeys: [] },
);
const rule = fc.record(
  {
    name: dnsLabel,
    matches: fc.array(match, { maxLength: 3 }),
    filters: fc.array(filter, { maxLength: 2 }),
    backendRefs: fc.array(backendRef, { maxLength: 3 }),
    timeouts,
  },
  { requiredKeys: [] },
);
const httpRoute = fc.record(
  { parentRefs: fc.array(parentRef, { maxLength: 3 }), hostnames: fc.uniqueArray(hostname, { maxLength: 3 }), rules: fc.array(rule, { minLength: 1, maxLength: 3 }) },
  { requiredKeys: ["rules"] },
);
const tlsRoute = fc.record({
  parentRefs: fc.array(parentRef, { minLength: 1, maxLength: 2 }),
  hostnames: fc.uniqueArray(hostname, { minLength: 1, maxLength: 3 }),
  rules: fc.array(fc.record({ backendRefs: fc.array(backendRef, { minLength: 1, maxLength: 2 }) }), { minLength: 1, maxLength: 1 }),
});
const certificateRefs = fc.array(fc.record({ name: dnsLabel }), { minLength: 1, maxLength: 2 });
/** tls as the CRD ties it to the protocol: none for HTTP, Terminate with certificates for HTTPS, either mode for TLS. */
const protocolAndTls = fc.oneof(
  fc.constant({ protocol: "HTTP" }),
  certificateRefs.map((refs) => ({ protocol: "HTTPS", tls: { mode: "Terminate", certificateRefs: refs } })),
  fc.constant({ protocol: "TLS", tls: { mode: "Passthrough" } }),
  certificateRefs.map((refs) => ({ protocol: "TLS", tls: { mode: "Terminate", certificateRefs: refs } })),
);
const listener = fc
  .tuple(
    fc.record(
      {
        name: dnsLabel,
        port: fc.integer({ min: 1, max: 65535 }),
        hostname,
        allowedRoutes: fc.record({ namespaces: fc.record({ from: fc.constantFrom("All", "Same") }) }),
      },
      { requiredKeys: ["name", "port"] },
    ),
    protocolAndTls,
  )
  .map(([l, p]) => ({ ...l, ...p }));
const gateway = fc.record({ gatewayClassName: dnsLabel, listeners: fc.uniqueArray(listener, { minLength: 1, maxLength: 4, selector: (l) => l.name }) });

test("every HTTPRoute, TLSRoute and Gateway the upstream CRDs admit parses with meshgate's schema", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const ns = await testNamespace(t, server, "schema");
  const client = new KubeClient({ kubeconfig: server.kubeconfigPath });
  t.teardown(() => client.close());
  const seed = fcSeed();
  t.log(`seed=${seed} (replay: FC_SEED=${seed})`);
  const kinds = [
    { kind: "HTTPRoute", plural: "httproutes", spec: httpRoute },
    { kind: "TLSRoute", plural: "tlsroutes", spec: tlsRoute },
    { kind: "Gateway", plural: "gateways", spec: gateway },
  ] as const;
  const counts: string[] = [];
  const refused: string[] = [];
  for (const { kind, plural, spec } of kinds) {
    let admitted = 0;
    let denied = 0;
    const samples = fc.sample(spec as fc.Arbitrary<unknown>, { numRuns: RUNS, seed });
    for (const [i, body] of samples.entries()) {
      const object = { apiVersion: "gateway.networking.k8s.io/v1", kind, metadata: { name: `g${i}`, namespace: ns }, spec: body };
      let stored: unknown;
      try {
        stored = await client.json("POST", `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/${plural}?dryRun=All&fieldValidation=Strict`, object);
      } catch (error) {
        if (!(error instanceof KubeApiError) || error.status !== 422) throw error;
        denied++;
        continue;
      }
      admitted++;
      const outcome = parseObject(stored, "kubernetes");
      if (outcome.type !== "resource") refused.push(`${kind} ${JSON.stringify(body)}: ${outcome.type === "error" ? outcome.message : "ignored"}`);
    }
    counts.push(`${kind}: ${admitted} admitted by the CRD, ${denied} refused by it`);
  }
  t.log(`${counts.join("; ")}; admitted but refused by meshgate's schema: ${refused.length}`);
  t.deepEqual(refused.slice(0, 5), []);
  t.true(counts.every((c) => !c.includes(": 0 admitted")), "the generators reach objects the CRDs admit");
});
