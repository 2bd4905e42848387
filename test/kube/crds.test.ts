// meshgate's CRDs on a real API server agree with the validator they are generated from: every
// spec the validator (the parse* function the controller runs) accepts, the API server stores,
// and stores with the same meaning after its defaults; every spec it refuses for a reason the
// CRD can express, the API server refuses too. Only the rules README lists as the controller's
// are left to the controller. Plus the status subresource and `meshgate crds | kubectl apply`.
import { ApiException, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import test from "ava";
import fc from "fast-check";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { buildInfo } from "../../cli/version.js";
import { POLICY_VERSION, VERSION_ANNOTATION } from "../../controller/crds/definitions.js";
import { POLICY_KINDS, type PolicyKind } from "../../controller/crds/kinds.js";
import type { Lowering } from "../../controller/crds/lowering.js";
import { POLICY_GROUP } from "../../controller/resources/index.js";
import { CONTROLLER_NAME } from "../../controller/status/conditions.js";
import { CLI } from "../support/cli.js";
import { controllerOnlyFindings, controllerRules } from "../support/crd-verdicts.js";
import { fcSeed } from "../support/fc-seed.js";
import { type Json, mutate, mutation, type MutationKind } from "../support/json-mutations.js";
import * as specs from "../support/policy-specs.js";
import { makeCa } from "../support/tls-certs.js";
import { kubectl, startKubeApiServer } from "./server.js";
import { sharedKubeApiServer, stopSharedKubeApiServer, testNamespace } from "./shared.js";

const FIRST_USE_MS = 95 * 60_000;
const GROUP = "gateway.networking.k8s.io";
const VALID_PER_KIND = 16;
const MUTATED_PER_KIND = 64;
const PARALLEL = 8;

test.after.always(stopSharedKubeApiServer);

function kindNamed(name: string): PolicyKind {
  const kind = POLICY_KINDS.find((k) => k.kind === name);
  if (kind === undefined) throw new Error(`no policy kind ${name}`);
  return kind;
}

function customObjects(kubeconfigPath: string): CustomObjectsApi {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath);
  return config.makeApiClient(CustomObjectsApi);
}

type Created = { ok: true; stored: Json } | { ok: false; code: number; message: string };

async function create(
  api: CustomObjectsApi,
  namespace: string,
  kind: PolicyKind,
  name: string,
  spec: Json,
  fieldValidation = "Strict",
): Promise<Created> {
  try {
    const stored = (await api.createNamespacedCustomObject({
      group: POLICY_GROUP,
      version: POLICY_VERSION,
      namespace,
      plural: kind.plural,
      body: { apiVersion: `${POLICY_GROUP}/${POLICY_VERSION}`, kind: kind.kind, metadata: { name, namespace }, spec },
      fieldValidation,
    })) as { spec: Json };
    return { ok: true, stored: stored.spec };
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const body = typeof error.body === "string" ? error.body : JSON.stringify(error.body);
    let message = body;
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      // not JSON: the body as it came
    }
    return { ok: false, code: error.code, message };
  }
}

/** Runs `work` over `items`, `parallel` at a time, keeping the order of results. */
async function pooled<T, R>(items: readonly T[], parallel: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index] as T, index);
      }
    }),
  );
  return results;
}

interface Case {
  kind: PolicyKind;
  spec: Json;
  /** "valid", a mutation (kind, place, value), or a hand-written case's reason. */
  origin: string;
  mutation?: MutationKind;
  /** Hand-written cases say who must refuse them. */
  expect?: Expected;
}

type Expected = "both" | "controller" | "neither";

const ref = (kind: string, extra: Record<string, Json> = {}): Json => [{ group: GROUP, kind, name: "edge", ...extra }];

/** One case per rule lowered by hand (a CEL or structural rule, or the controller's alone), so every one is exercised. */
function handWritten(caBundle: string): Case[] {
  const btp = (spec: Record<string, Json>) => ({ targetRefs: ref("HTTPRoute"), ...spec });
  const ctp = (spec: Record<string, Json>) => ({ targetRefs: ref("Gateway"), ...spec });
  const rl = (selector: Record<string, Json>, extra: Record<string, Json> = {}) => ({
    targetRefs: ref("Gateway"),
    rules: [{ clientSelectors: [selector], limit: { requests: 10, unit: "Second" } }],
    ...extra,
  });
  const acme = (fields: Record<string, Json>) => ({ targetRefs: ref("Gateway"), acme: { directory: "https://acme.example/dir", ...fields } });
  const table: [string, string, Json, Expected][] = [
    ["BackendTrafficPolicy", "target kind Service", { targetRefs: ref("Service") }, "both"],
    ["BackendTrafficPolicy", "target group core", { targetRefs: ref("Gateway", { group: "" }) }, "both"],
    ["BackendTrafficPolicy", "faultInjection empty", btp({ faultInjection: {} }), "both"],
    ["BackendTrafficPolicy", "abort without httpStatus", btp({ faultInjection: { abort: { percentage: 5 } } }), "both"],
    ["BackendTrafficPolicy", "abort with grpcStatus", btp({ faultInjection: { abort: { httpStatus: 503, grpcStatus: 14 } } }), "both"],
    ["BackendTrafficPolicy", "ConsistentHash without consistentHash", btp({ loadBalancer: { type: "ConsistentHash" } }), "both"],
    ["BackendTrafficPolicy", "hash on Header without header", btp({ loadBalancer: { type: "ConsistentHash", consistentHash: { type: "Header" } } }), "both"],
    ["BackendTrafficPolicy", "hash on Cookie without cookie", btp({ loadBalancer: { type: "ConsistentHash", consistentHash: { type: "Cookie", header: { name: "x" } } } }), "both"],
    ["BackendTrafficPolicy", "backOff base above max", btp({ retry: { perRetry: { backOff: { baseInterval: "1m", maxInterval: "59s999ms" } } } }), "both"],
    ["BackendTrafficPolicy", "duration past a Node timer", btp({ timeout: { tcp: { connectTimeout: "596h31m23s648ms" } } }), "both"],
    ["BackendTrafficPolicy", "the longest duration", btp({ timeout: { tcp: { connectTimeout: "596h31m23s647ms" } } }), "neither"],
    ["BackendTrafficPolicy", "backOff base equal to max", btp({ retry: { perRetry: { backOff: { baseInterval: "60s", maxInterval: "1m" } } } }), "neither"],
    ["ClientTrafficPolicy", "idleTimeout 10s spelt 9s1000ms", ctp({ timeout: { http: { idleTimeout: "9s1000ms" } } }), "neither"],
    ["ClientTrafficPolicy", "minVersion 1.3 alone", ctp({ tls: { minVersion: "1.3" } }), "neither"],
    ["RateLimitPolicy", "header without a type (Exact)", rl({ headers: [{ name: "x", value: "v" }] }), "neither"],
    ["ClientTrafficPolicy", "minVersion 1.3 with ciphers", ctp({ tls: { minVersion: "1.3", ciphers: ["AES128-SHA"] } }), "both"],
    ["ClientTrafficPolicy", "idleTimeout 11s", ctp({ timeout: { http: { idleTimeout: "11s" } } }), "both"],
    ["ClientTrafficPolicy", "an unknown cipher", ctp({ tls: { ciphers: ["NOT-A-CIPHER"] } }), "controller"],
    ["ClientTrafficPolicy", "a TLS 1.3 suite in ciphers", ctp({ tls: { ciphers: ["[AES128-SHA|TLS_AES_128_GCM_SHA256]"] } }), "controller"],
    ["ClientTrafficPolicy", "a CIDR with host bits", ctp({ proxyProtocol: { trustedCIDRs: ["10.0.0.1/8"] } }), "controller"],
    ["RateLimitPolicy", "Distinct header with a value", rl({ headers: [{ name: "x", type: "Distinct", value: "v" }] }), "both"],
    ["RateLimitPolicy", "RegularExpression header without a value", rl({ headers: [{ name: "x", type: "RegularExpression" }] }), "both"],
    ["RateLimitPolicy", "Distinct query parameter with a value", rl({ queryParams: [{ name: "q", type: "Distinct", value: "v" }] }), "both"],
    ["RateLimitPolicy", "a header regex RE2 refuses", rl({ headers: [{ name: "x", type: "RegularExpression", value: "(?=a)b" }] }), "controller"],
    ["RateLimitPolicy", "a source that is no address", rl({ sourceCIDR: { value: "300.1.1.1" } }), "controller"],
    [
      "RateLimitPolicy",
      "two rules of one name",
      { targetRefs: ref("Gateway"), rules: [{ limit: { requests: 1, unit: "Second" } }, { name: "0", limit: { requests: 2, unit: "Second" } }] },
      "controller",
    ],
    ["MirrorComparisonPolicy", "33 headers", { targetRefs: ref("HTTPRoute"), headers: Array.from({ length: 33 }, (_, i) => `x-h${i}`) }, "both"],
    ["MirrorComparisonPolicy", "a header name with a space", { targetRefs: ref("HTTPRoute"), headers: ["x y"] }, "both"],
    ["AcmeCertificatePolicy", "an email without @", acme({ email: "ops.example.com" }), "both"],
    ["AcmeCertificatePolicy", "an email with a non-breaking space", acme({ email: "ops\u00a0x@example.com" }), "both"],
    ["AcmeCertificatePolicy", "an http:// directory", acme({ directory: "http://acme.example/dir" }), "controller"],
    ["AcmeCertificatePolicy", "a caBundle that is no certificate", acme({ caBundle: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" }), "controller"],
    ["AcmeCertificatePolicy", "a caBundle with a private key", acme({ caBundle: `${caBundle}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n` }), "controller"],
  ];
  return table.map(([kind, why, spec, expect]) => ({ kind: kindNamed(kind), spec, origin: why, expect }));
}

function generated(seed: number, caBundle: string): Case[] {
  const arbitraries: Record<string, fc.Arbitrary<Json>> = {
    BackendTrafficPolicy: specs.backendTrafficSpec as fc.Arbitrary<Json>,
    ClientTrafficPolicy: specs.clientTrafficSpec as fc.Arbitrary<Json>,
    RateLimitPolicy: specs.rateLimitSpec as fc.Arbitrary<Json>,
    MirrorComparisonPolicy: specs.mirrorComparisonSpec as fc.Arbitrary<Json>,
    AcmeCertificatePolicy: specs.acmeCertificateSpec(caBundle) as fc.Arbitrary<Json>,
  };
  return POLICY_KINDS.flatMap((kind, k) => {
    const valid = arbitraries[kind.kind];
    if (valid === undefined) throw new Error(`no generator for ${kind.kind}`);
    const plain = fc.sample(valid, { seed: seed + k, numRuns: VALID_PER_KIND }).map((spec): Case => ({ kind, spec, origin: "valid" }));
    const mutated = fc
      .sample(fc.tuple(valid, mutation), { seed: seed + 100 + k, numRuns: MUTATED_PER_KIND })
      .flatMap(([spec, m]): Case[] => {
        const changed = mutate(spec, m);
        return changed === undefined ? [] : [{ kind, spec: changed.value, origin: `spec${changed.where} ${changed.what}`, mutation: m.kind }];
      });
    return [...plain, ...mutated];
  });
}

interface Outcome {
  c: Case;
  validator: boolean;
  apiServer: Created;
  /** When the API server stored a spec the validator refuses: the controller-only rules behind every finding. */
  controllerRules?: Lowering[];
}

test("generated policy specs: the API server stores every spec the validator accepts, and refuses every one it refuses but for the controller's own rules", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const namespace = await testNamespace(t, server, "crds");
  const api = customObjects(server.kubeconfigPath);
  const seed = fcSeed();
  t.log(`seed=${seed} (replay: FC_SEED=${seed})`);
  const caBundle = (await makeCa("meshgate crds test CA")).certPem;
  const cases = [...generated(seed, caBundle), ...handWritten(caBundle)];

  const started = Date.now();
  const outcomes = await pooled(cases, PARALLEL, async (c, i): Promise<Outcome> => {
    const validator = c.kind.parse(c.spec).ok;
    const apiServer = await create(api, namespace, c.kind, `p-${i}`, c.spec);
    const outcome: Outcome = { c, validator, apiServer };
    if (apiServer.ok && !validator) {
      const rules = controllerOnlyFindings(c.kind, c.spec);
      if (rules !== undefined) outcome.controllerRules = rules;
    }
    return outcome;
  });
  const elapsed = Date.now() - started;

  const show = (o: Outcome) => {
    const verdict = o.c.kind.parse(o.c.spec);
    return (
      `${o.c.kind.kind} (${o.c.origin}): ${JSON.stringify(o.c.spec)}\n  validator: ${verdict.ok ? "accepts" : verdict.message}` +
      `\n  API server: ${o.apiServer.ok ? "stored" : `${o.apiServer.code} ${o.apiServer.message}`}`
    );
  };
  const failures: string[] = [];
  let acceptedByBoth = 0;
  let refusedByBoth = 0;
  let nullsDropped = 0;
  const controllerOnly = new Map<string, number>();
  for (const o of outcomes) {
    if (o.validator && !o.apiServer.ok) failures.push(`the CRD refuses a spec the validator accepts: ${show(o)}`);
    else if (o.validator && o.apiServer.ok) {
      acceptedByBoth += 1;
      // The CRD's defaults (group, percentage, type: Exact...) do not change what the spec means.
      t.deepEqual(o.c.kind.parse(o.apiServer.stored), o.c.kind.parse(o.c.spec), `stored with another meaning: ${show(o)}`);
    } else if (!o.validator && !o.apiServer.ok) refusedByBoth += 1;
    else if (o.controllerRules !== undefined) {
      for (const rule of o.controllerRules) {
        const key = `${o.c.kind.kind} spec.${rule.path}`;
        controllerOnly.set(key, (controllerOnly.get(key) ?? 0) + 1);
      }
    } else if (o.c.mutation === "null" && o.apiServer.ok && (o.c.kind.parse(o.apiServer.stored).ok || controllerOnlyFindings(o.c.kind, o.apiServer.stored) !== undefined)) {
      // The API server drops a null it has no use for (a field that is not nullable): what it
      // stores is the spec without it, which the validator judges as it would have that spec.
      nullsDropped += 1;
    } else failures.push(`the CRD stores a spec the validator refuses for a reason the CRD should check: ${show(o)}`);
    if (o.c.expect !== undefined) {
      const refusedBy = o.apiServer.ok ? (o.validator ? "neither" : "controller") : o.validator ? "the API server alone" : "both";
      if (refusedBy !== o.c.expect) failures.push(`expected ${o.c.expect} to refuse it, refused by ${refusedBy}: ${show(o)}`);
    }
  }
  const controllerCount = [...controllerOnly.values()].reduce((a, b) => a + b, 0);
  const rules = [...controllerOnly.entries()].map(([where, n]) => `${where} ${n}`).join(", ");
  t.log(
    `${outcomes.length} specs: ${acceptedByBoth} accepted by both, ${refusedByBoth} rejected by both, ${controllerCount} rejected only by the controller ` +
      `(rules: ${rules}), ${nullsDropped} with a null the API server dropped (stored spec as the validator reads it); ${elapsed} ms`,
  );
  for (const kind of POLICY_KINDS) {
    const mine = outcomes.filter((o) => o.c.kind === kind);
    t.log(
      `  ${kind.kind}: ${mine.length} specs, ${mine.filter((o) => o.validator && o.apiServer.ok).length} accepted by both, ` +
        `${mine.filter((o) => !o.validator && !o.apiServer.ok).length} rejected by both, ${mine.filter((o) => o.controllerRules !== undefined).length} only by the controller, ` +
        `${mine.filter((o) => !o.validator && o.apiServer.ok && o.controllerRules === undefined).length} with a null dropped`,
    );
    // A run that never stored or never refused a kind would prove nothing about it.
    t.true(mine.some((o) => o.validator && o.apiServer.ok), `${kind.kind}: no spec accepted by both`);
    t.true(mine.some((o) => !o.validator && !o.apiServer.ok), `${kind.kind}: no spec rejected by both`);
  }
  // Every rule only the controller checks was met, by a hand-written case at least.
  for (const kind of POLICY_KINDS) {
    for (const rule of controllerRules(kind)) t.true(controllerOnly.has(`${kind.kind} spec.${rule.path}`), `${kind.kind} spec.${rule.path} never exercised`);
  }
  t.deepEqual(failures, []);
});

const run = promisify(execFile);

function btp(namespace: string, name: string, spec: Json): string {
  return JSON.stringify({ apiVersion: `${POLICY_GROUP}/${POLICY_VERSION}`, kind: "BackendTrafficPolicy", metadata: { name, namespace }, spec });
}

test("an unknown field is refused under strict field validation (kubectl's default) and dropped from the stored spec without it", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const namespace = await testNamespace(t, server, "crds-strict");
  const misspelt = { targetRefs: ref("HTTPRoute"), retry: { numRetrys: 3 } };
  await t.throwsAsync(kubectl(server.kubeconfigPath, ["apply", "-f", "-"], btp(namespace, "strict", misspelt)), {
    message: /strict decoding error: unknown field "spec\.retry\.numRetrys"/,
  });
  // --validate=false (fieldValidation=Ignore), and a client that asks for nothing (the server's
  // default, Warn): stored, without the field, so the policy means "retry as by default".
  await kubectl(server.kubeconfigPath, ["apply", "--validate=false", "-f", "-"], btp(namespace, "ignored", misspelt));
  const ignored = JSON.parse(await kubectl(server.kubeconfigPath, ["get", "-n", namespace, "backendtrafficpolicy", "ignored", "-o", "json"])) as { spec: Json };
  t.deepEqual(ignored.spec, { targetRefs: ref("HTTPRoute"), retry: {} });
  const warned = await create(customObjects(server.kubeconfigPath), namespace, kindNamed("BackendTrafficPolicy"), "warned", misspelt, "Warn");
  t.deepEqual(warned, { ok: true, stored: { targetRefs: ref("HTTPRoute"), retry: {} } });
});

test("a status written through the status subresource (merge patch of status.ancestors) is stored, checked and shown by kubectl get", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const namespace = await testNamespace(t, server, "crds-status");
  const api = customObjects(server.kubeconfigPath);
  const kind = kindNamed("BackendTrafficPolicy");
  const created = await create(api, namespace, kind, "tuned", { targetRefs: ref("HTTPRoute"), loadBalancer: { type: "Random" } });
  t.true(created.ok);
  const where = { group: POLICY_GROUP, version: POLICY_VERSION, namespace, plural: kind.plural, name: "tuned" };
  const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  const accepted = {
    type: "Accepted",
    status: "True",
    reason: "Accepted",
    message: "Policy has been accepted",
    observedGeneration: 1,
    lastTransitionTime: "2026-01-02T03:04:05Z",
  };
  const ancestor = { ancestorRef: { name: "edge", namespace }, controllerName: CONTROLLER_NAME, conditions: [accepted] };
  await api.patchNamespacedCustomObjectStatus({ ...where, body: { status: { ancestors: [ancestor] } } }, mergePatch);

  const stored = (await api.getNamespacedCustomObject(where)) as { metadata: { generation: number }; status: Json; spec: Json };
  // The ancestorRef's group and kind are GEP-713's defaults; a status write does not bump the generation.
  t.deepEqual(stored.status, { ancestors: [{ ...ancestor, ancestorRef: { group: GROUP, kind: "Gateway", name: "edge", namespace } }] });
  t.is(stored.metadata.generation, 1);
  const table = await kubectl(server.kubeconfigPath, ["get", "-n", namespace, "backendtrafficpolicies"]);
  t.log(table.trimEnd());
  t.regex(table, /^NAME\s+ACCEPTED\s+AGE\ntuned\s+True\s+\S+\n$/);
  t.regex(await kubectl(server.kubeconfigPath, ["get", "-n", namespace, "backendtrafficpolicy", "tuned", "-o", "wide"]), /^NAME\s+ACCEPTED\s+REASON\s+AGE\ntuned\s+True\s+Accepted\s+/);
  t.regex(await kubectl(server.kubeconfigPath, ["get", "meshgate", "-n", namespace, "-o", "name"]), /^backendtrafficpolicy\.meshgate\.io\/tuned\n$/);

  // GEP-713's shape is enforced: a condition without a reason is refused, and nothing changes.
  const noReason: Partial<typeof accepted> = { ...accepted };
  delete noReason.reason;
  const refused = await api
    .patchNamespacedCustomObjectStatus({ ...where, body: { status: { ancestors: [{ ...ancestor, conditions: [noReason] }] } } }, mergePatch)
    .then(
      () => undefined,
      (error: unknown) => error,
    );
  t.true(refused instanceof ApiException && refused.code === 422, String(refused));
  // The subresource splits the object: spec through /status and status through the object are ignored.
  await api.patchNamespacedCustomObjectStatus({ ...where, body: { spec: { loadBalancer: { type: "LeastRequest" } } } }, mergePatch);
  await api.patchNamespacedCustomObject({ ...where, body: { status: { ancestors: [] } } }, mergePatch);
  const after = (await api.getNamespacedCustomObject(where)) as typeof stored;
  t.deepEqual(after.status, stored.status);
  t.deepEqual(after.spec, stored.spec);
});

test("`meshgate crds | kubectl apply -f -` installs the five CRDs on a cluster without them, and a second run changes nothing", async (t) => {
  t.timeout(FIRST_USE_MS);
  // A server of its own: the shared one has the CRDs, and removing them would pull them from under this file's other tests.
  const server = await startKubeApiServer({ gatewayApiCrds: false, meshgateCrds: false });
  t.teardown(() => server.stop());
  const pipeline = `set -o pipefail; node ${JSON.stringify(CLI)} crds | kubectl --kubeconfig ${JSON.stringify(server.kubeconfigPath)} apply -f -`;
  const names = POLICY_KINDS.map((k) => `customresourcedefinition.apiextensions.k8s.io/${k.plural}.${POLICY_GROUP}`);
  const first = await run("bash", ["-c", pipeline]);
  t.log(first.stdout.trimEnd());
  t.deepEqual(first.stdout.trim().split("\n"), names.map((n) => `${n} created`));
  await kubectl(server.kubeconfigPath, ["wait", "--for=condition=Established", "--timeout=60s", ...names.map((n) => n.replace(/^customresourcedefinition\.apiextensions\.k8s\.io/, "crd"))]);
  const before = await kubectl(server.kubeconfigPath, ["get", "crd", "-l", "app.kubernetes.io/name=meshgate", "-o", "jsonpath={.items[*].metadata.resourceVersion}"]);
  const second = await run("bash", ["-c", pipeline]);
  t.deepEqual(second.stdout.trim().split("\n"), names.map((n) => `${n} unchanged`));
  t.is(await kubectl(server.kubeconfigPath, ["get", "crd", "-l", "app.kubernetes.io/name=meshgate", "-o", "jsonpath={.items[*].metadata.resourceVersion}"]), before);

  const crd = JSON.parse(await kubectl(server.kubeconfigPath, ["get", "crd", `ratelimitpolicies.${POLICY_GROUP}`, "-o", "json"])) as {
    metadata: { labels: Record<string, string>; annotations: Record<string, string> };
    spec: { names: { categories: string[] }; scope: string };
  };
  t.is(crd.metadata.annotations[VERSION_ANNOTATION], buildInfo().version);
  t.like(crd.metadata.labels, { "app.kubernetes.io/name": "meshgate", "app.kubernetes.io/part-of": "meshgate" });
  t.deepEqual(crd.spec.names.categories, ["meshgate"]);
  const resources = await kubectl(server.kubeconfigPath, ["api-resources", `--api-group=${POLICY_GROUP}`, "--namespaced=true", "-o", "name"]);
  t.deepEqual(resources.trim().split("\n").sort(), POLICY_KINDS.map((k) => `${k.plural}.${POLICY_GROUP}`).sort());
});
