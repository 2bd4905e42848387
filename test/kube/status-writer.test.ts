// The status writer against a real API server: what kubectl users see after a report is written,
// how many writes each step costs (meshgate_status_writes_total), and the pitfalls other
// controllers hit: unchanged resyncs, other controllers' entries, conflicts, leader changes,
// deleted objects, objects whose spec moved on, and a burst of routes.
import { KubeConfig } from "@kubernetes/client-node";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeClient } from "../../controller/provider/kubernetes/client.js";
import { statusApiOver } from "../../controller/status/kube/api.js";
import test, { type ExecutionContext } from "ava";
import pino from "pino";
import { Registry } from "prom-client";
import { CONTROLLER_NAME } from "../../controller/status/conditions.js";
import { desiredStatuses } from "../../controller/status/kube/desired.js";
import type { CurrentObject, ObjectRef } from "../../controller/status/kube/objects.js";
import { StatusWriter } from "../../controller/status/kube/writer.js";
import { httpRoute, run, service } from "../support/controller-yaml.js";
import { type InformerCache, informerCache } from "./informer-cache.js";
import { type KubeApiServer, kubeconfig, kubectl } from "./server.js";
import { sharedKubeApiServer, stopSharedKubeApiServer, testNamespace } from "./shared.js";

// The first test to ask may wait for a build of the control plane (CI builds it before the suite).
const FIRST_USE_MS = 95 * 60_000;
const OTHER_CONTROLLER = "example.net/other-controller";
const POLICY_CRD = "backendtrafficpolicies.meshgate.io";

test.after.always(async () => {
  const e = await shared?.catch(() => undefined);
  await e?.cache.stop();
  await stopSharedKubeApiServer();
});

interface Env {
  server: KubeApiServer;
  kubeConfig: KubeConfig;
  /** The controller's own client (what the writer's requests go through in meshgate controller). */
  client: KubeClient;
  cache: InformerCache;
  bundleVersion: string;
  /** "generated" when meshgate's own CRDs are installed, "stand-in" when this file created one. */
  policyCrd: string;
}

let shared: Promise<Env> | undefined;
function env(): Promise<Env> {
  shared ??= (async () => {
    const server = await sharedKubeApiServer();
    const policyCrd = await ensurePolicyCrd(server);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(server.kubeconfigPath);
    const cache = await informerCache(kubeConfig, ["GatewayClass", "Gateway", "HTTPRoute", "BackendTrafficPolicy"]);
    const bundleVersion = await kubectl(server.kubeconfigPath, [
      "get",
      "crd",
      "gateways.gateway.networking.k8s.io",
      "-o",
      "jsonpath={.metadata.annotations.gateway\\.networking\\.k8s\\.io/bundle-version}",
    ]);
    const client = new KubeClient({ kubeconfig: server.kubeconfigPath });
    return { server, kubeConfig, client, cache, bundleVersion, policyCrd };
  })();
  return shared;
}

/**
 * meshgate's policy CRDs come from controller/crds (test/kube/server.ts installs them once that
 * lands). Until then this file creates a STAND-IN for one kind: only what a status write needs
 * (the status subresource), no schema of meshgate's. Remove it when the generated CRDs are there.
 */
async function ensurePolicyCrd(server: KubeApiServer): Promise<string> {
  const present = await kubectl(server.kubeconfigPath, ["get", "crd", POLICY_CRD, "--ignore-not-found", "-o", "name"]);
  if (present.trim() !== "") return "generated";
  await kubectl(
    server.kubeconfigPath,
    ["apply", "-f", "-"],
    `# STAND-IN for meshgate's generated CRD (see ensurePolicyCrd)
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ${POLICY_CRD}}
spec:
  group: meshgate.io
  scope: Namespaced
  names: {plural: backendtrafficpolicies, singular: backendtrafficpolicy, kind: BackendTrafficPolicy, listKind: BackendTrafficPolicyList}
  versions:
    - name: v1alpha1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
            status: {type: object, x-kubernetes-preserve-unknown-fields: true}
`,
  );
  await kubectl(server.kubeconfigPath, ["wait", "--for=condition=Established", "--timeout=60s", `crd/${POLICY_CRD}`]);
  return "stand-in";
}

// --- the configuration: applied to the cluster, and translated into the report ---

function gatewayClass(name: string, controller = CONTROLLER_NAME): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ${name}}
spec: {controllerName: ${controller}}
`;
}

function edgeGateway(ns: string, className: string): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: ${ns}}
spec:
  gatewayClassName: ${className}
  listeners: [{name: web, protocol: HTTP, port: 8080}]
`;
}

/** A route to Service `backend` (absent from the translation: ResolvedRefs=False). */
function route(ns: string, name: string, opts: { backend?: string; generation?: number; hostname?: string } = {}): string {
  const text = httpRoute(
    name,
    `parentRefs: [{name: edge}]\nhostnames: [${opts.hostname ?? `${name}.example.test`}]\nrules: [{backendRefs: [{name: ${opts.backend ?? "api"}, port: 80}]}]`,
    { namespace: ns },
  );
  // The file provider reads metadata.generation; the API server sets its own and ignores this.
  return opts.generation === undefined ? text : text.replace(`namespace: ${ns}}`, `namespace: ${ns}, generation: ${opts.generation}}`);
}

function policy(ns: string): string {
  return `---
apiVersion: meshgate.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: tuned, namespace: ${ns}}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge}]
  loadBalancer: {type: Random}
`;
}

/** A TLS Passthrough Gateway and a TLSRoute (gateway.networking.k8s.io/v1, standard channel since v1.5) on it. */
function passthrough(ns: string, className: string): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: tls-edge, namespace: ${ns}}
spec:
  gatewayClassName: ${className}
  listeners: [{name: pass, protocol: TLS, port: 8443, hostname: db.example.test, tls: {mode: Passthrough}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: db, namespace: ${ns}}
spec:
  parentRefs: [{name: tls-edge}]
  hostnames: [db.example.test]
  rules: [{backendRefs: [{name: api, port: 80}]}]
`;
}

interface Setup {
  e: Env;
  ns: string;
  className: string;
  /** The cluster's objects as YAML (one GatewayClass, Gateway edge, Service api, HTTPRoute shop, policy tuned). */
  text: string;
}

interface SetupOptions {
  routes?: (ns: string) => string;
  /** More objects, given the namespace and the GatewayClass name. */
  extra?: (ns: string, className: string) => string;
}

async function setup(t: ExecutionContext, options: SetupOptions = {}): Promise<Setup> {
  const e = await env();
  const ns = await testNamespace(t, e.server, "status");
  const className = `meshgate-${ns}`;
  const routes = options.routes ?? ((n: string) => route(n, "shop"));
  const text =
    gatewayClass(className) +
    edgeGateway(ns, className) +
    service("api", "[{port: 80}]", { namespace: ns }) +
    routes(ns) +
    policy(ns) +
    (options.extra?.(ns, className) ?? "");
  await kubectl(e.server.kubeconfigPath, ["apply", "-f", "-"], text);
  t.teardown(() => kubectl(e.server.kubeconfigPath, ["delete", "gatewayclass", className, "--ignore-not-found", "--wait=false"]).then(() => undefined));
  return { e, ns, className, text };
}

const ADDRESS = "192.0.2.10";

function desired(s: Setup, text = s.text) {
  return desiredStatuses(run(text).status, {
    controllerName: CONTROLLER_NAME,
    bundleVersion: s.e.bundleVersion,
    addresses: (ns, name) => (ns === s.ns && name === "edge" ? [{ type: "IPAddress", value: ADDRESS }] : undefined),
  });
}

interface Harness {
  writer: StatusWriter;
  /** Sum of meshgate_status_writes_total over the labels given. */
  count(result: string, kind?: string): Promise<number>;
  clock: { now: Date };
}

function harness(
  t: ExecutionContext,
  s: Setup,
  current: (ref: ObjectRef) => CurrentObject | undefined = s.e.cache.current,
  client: KubeClient = s.e.client,
): Harness {
  const clock = { now: wholeSecond(new Date()) };
  const registry = new Registry();
  const writer = new StatusWriter({
    api: statusApiOver((method, path, body, contentType) => client.json(method, path, body, contentType)),
    current,
    registry,
    logger: pino({ level: "silent" }),
    now: () => clock.now,
  });
  t.teardown(() => writer.close());
  const count = async (result: string, kind?: string) => {
    const metric = registry.getSingleMetric("meshgate_status_writes_total");
    const values = (await metric?.get())?.values ?? [];
    return values.filter((v) => v.labels["result"] === result && (kind === undefined || v.labels["kind"] === kind)).reduce((n, v) => n + v.value, 0);
  };
  return { writer, count, clock };
}

function wholeSecond(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/** Every outcome counted so far, as "result kind=count" (what a failed assertion prints). */
async function outcomes(h: Harness): Promise<string> {
  const results = ["written", "conflict", "not_found", "stale_generation", "invalid", "error"];
  const parts = await Promise.all(results.map(async (r) => `${r}=${await h.count(r)}`));
  return parts.join(" ");
}

interface KubeCondition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}
interface RouteParent {
  parentRef: Record<string, unknown>;
  controllerName: string;
  conditions: KubeCondition[];
}
interface Readback {
  metadata: { generation: number; resourceVersion: string };
  status?: {
    conditions?: KubeCondition[];
    addresses?: { type: string; value: string }[];
    listeners?: { name: string; attachedRoutes: number; supportedKinds: unknown[]; conditions: KubeCondition[] }[];
    parents?: RouteParent[];
    ancestors?: (Omit<RouteParent, "parentRef"> & { ancestorRef: Record<string, unknown> })[];
  };
}

async function getJson(s: Setup, kind: string, name: string, namespaced = true): Promise<Readback> {
  return JSON.parse(await kubectl(s.e.server.kubeconfigPath, ["get", kind, name, ...(namespaced ? ["-n", s.ns] : []), "-o", "json"])) as Readback;
}

/** The configuration without its Service: the routes' backendRefs no longer resolve. */
function withoutService(text: string): string {
  const out = text.replace(/---\napiVersion: v1\nkind: Service[^]*?(?=---)/, "");
  if (out.includes("kind: Service")) throw new Error("the Service is still in the configuration");
  return out;
}

const byType = (conditions: readonly KubeCondition[] | undefined, type: string) => conditions?.find((c) => c.type === type);

/** Polls until `check` holds (the informer catching up); fails the test after `ms`. */
async function eventually(t: ExecutionContext, what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) {
      t.fail(`timed out waiting for ${what}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function patchStatus(s: Setup, kind: string, name: string, status: unknown): Promise<void> {
  await kubectl(s.e.server.kubeconfigPath, ["patch", kind, name, "-n", s.ns, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
}

test("a report's status reads back with kubectl as users see it; the same report again writes nothing", async (t) => {
  t.timeout(FIRST_USE_MS);
  const s = await setup(t, { extra: passthrough });
  t.log(`meshgate.io CRD: ${s.e.policyCrd}; Gateway API bundle ${s.e.bundleVersion}`);
  // Another controller's class in the same cluster: meshgate leaves it alone.
  const theirs = `other-${s.ns}`;
  await kubectl(s.e.server.kubeconfigPath, ["apply", "-f", "-"], gatewayClass(theirs, OTHER_CONTROLLER));
  t.teardown(() => kubectl(s.e.server.kubeconfigPath, ["delete", "gatewayclass", theirs, "--wait=false"]).then(() => undefined));
  const h = harness(t, s);
  h.writer.setLeader(true);
  const started = Date.now();
  h.writer.publish(desired(s, s.text + gatewayClass(theirs, OTHER_CONTROLLER)));
  await h.writer.idle();
  t.log(`first write: ${Date.now() - started} ms, ${await outcomes(h)}`);
  t.is(await h.count("written"), 6, await outcomes(h));
  for (const [kind, n] of [["GatewayClass", 1], ["Gateway", 2], ["HTTPRoute", 1], ["TLSRoute", 1], ["BackendTrafficPolicy", 1]] as const)
    t.is(await h.count("written", kind), n, kind);

  const gateways = await kubectl(s.e.server.kubeconfigPath, ["get", "gateway", "-n", s.ns]);
  t.log(`kubectl get gateway -n ${s.ns}\n${gateways}`);
  t.regex(gateways, new RegExp(`^edge\\s+${s.className}\\s+${ADDRESS.replaceAll(".", "\\.")}\\s+True\\s+`, "m"));
  const classes = await kubectl(s.e.server.kubeconfigPath, ["get", "gatewayclass", s.className, theirs]);
  t.log(`kubectl get gatewayclass\n${classes}`);
  t.regex(classes, new RegExp(`^${s.className}\\s+${CONTROLLER_NAME.replaceAll(".", "\\.")}\\s+True\\s+`, "m"));
  // The CRD's default (Unknown, "Waiting for controller") stays on the other controller's class.
  t.regex(classes, new RegExp(`^${theirs}\\s+${OTHER_CONTROLLER.replaceAll(".", "\\.")}\\s+Unknown\\s+`, "m"));

  const gatewayClassStatus = (await getJson(s, "gatewayclass", s.className, false)).status;
  t.like(byType(gatewayClassStatus?.conditions, "SupportedVersion"), { status: "True", reason: "SupportedVersion", message: `Gateway API CRDs ${s.e.bundleVersion}` });

  const gateway = await getJson(s, "gateway", "edge");
  t.deepEqual(gateway.status?.addresses, [{ type: "IPAddress", value: ADDRESS }]);
  t.like(byType(gateway.status?.conditions, "Accepted"), { status: "True", observedGeneration: gateway.metadata.generation, lastTransitionTime: h.clock.now.toISOString().replace(".000Z", "Z") });
  t.like(byType(gateway.status?.conditions, "Programmed"), { status: "True", reason: "Programmed" });
  const [web] = gateway.status?.listeners ?? [];
  t.like(web, { name: "web", attachedRoutes: 1, supportedKinds: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute" }] });
  t.deepEqual(web?.conditions.map((c) => `${c.type}=${c.status}`), ["Accepted=True", "Conflicted=False", "ResolvedRefs=True", "Programmed=True"]);

  const shop = await getJson(s, "httproute", "shop");
  t.deepEqual(
    shop.status?.parents?.map((p) => ({ ref: p.parentRef, controller: p.controllerName, conditions: p.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`) })),
    [
      {
        ref: { group: "gateway.networking.k8s.io", kind: "Gateway", namespace: s.ns, name: "edge" },
        controller: CONTROLLER_NAME,
        conditions: ["Accepted=True/Accepted", "ResolvedRefs=True/ResolvedRefs"],
      },
    ],
  );
  const db = await getJson(s, "tlsroute", "db");
  t.deepEqual(db.status?.parents?.map((p) => [p.parentRef["name"], p.controllerName, byType(p.conditions, "Accepted")?.status]), [["tls-edge", CONTROLLER_NAME, "True"]]);
  t.is((await getJson(s, "gateway", "tls-edge")).status?.listeners?.[0]?.attachedRoutes, 1);
  const tuned = await getJson(s, "backendtrafficpolicy", "tuned");
  t.like(tuned.status?.ancestors?.[0], {
    ancestorRef: { group: "gateway.networking.k8s.io", kind: "Gateway", namespace: s.ns, name: "edge" },
    controllerName: CONTROLLER_NAME,
  });
  t.like(byType(tuned.status?.ancestors?.[0]?.conditions, "Accepted"), { status: "True", message: "applies to Gateway edge" });

  // A resync of the unchanged cluster: compared, not written (cache caught up or not).
  h.clock.now = new Date(h.clock.now.getTime() + 5_000);
  h.writer.publish(desired(s, s.text + gatewayClass(theirs, OTHER_CONTROLLER)));
  await h.writer.idle();
  await eventually(t, "the informer to see the writes", () => s.e.cache.current({ kind: "HTTPRoute", namespace: s.ns, name: "shop" })?.resourceVersion === shop.metadata.resourceVersion);
  h.writer.publish(desired(s, s.text + gatewayClass(theirs, OTHER_CONTROLLER)));
  await h.writer.idle();
  t.is(await h.count("written"), 6, `the resyncs wrote again: ${await outcomes(h)}`);
  t.is((await getJson(s, "httproute", "shop")).metadata.resourceVersion, shop.metadata.resourceVersion);
});

test("one condition changes: one write, and the unchanged conditions keep their lastTransitionTime", async (t) => {
  t.timeout(FIRST_USE_MS);
  const s = await setup(t);
  const h = harness(t, s);
  h.writer.setLeader(true);
  h.writer.publish(desired(s));
  await h.writer.idle();
  const first = (await getJson(s, "httproute", "shop")).status?.parents?.[0]?.conditions ?? [];
  const gatewayBefore = await getJson(s, "gateway", "edge");
  // Seconds later the Service disappears from what the controller sees: ResolvedRefs flips.
  h.clock.now = new Date(h.clock.now.getTime() + 7_000);
  h.writer.publish(desired(s, withoutService(s.text)));
  await h.writer.idle();
  t.is(await h.count("written"), 5, await outcomes(h));
  t.is(await h.count("written", "HTTPRoute"), 2);
  const after = (await getJson(s, "httproute", "shop")).status?.parents?.[0]?.conditions ?? [];
  t.like(byType(after, "ResolvedRefs"), { status: "False", reason: "BackendNotFound", lastTransitionTime: h.clock.now.toISOString().replace(".000Z", "Z") });
  t.not(byType(after, "ResolvedRefs")?.lastTransitionTime, byType(first, "ResolvedRefs")?.lastTransitionTime);
  t.is(byType(after, "Accepted")?.lastTransitionTime, byType(first, "Accepted")?.lastTransitionTime);
  t.is(byType(after, "Accepted")?.status, "True");
  // Nothing else was touched.
  t.is((await getJson(s, "gateway", "edge")).metadata.resourceVersion, gatewayBefore.metadata.resourceVersion);
});

test("another controller's parents[] entry and a foreign condition type survive meshgate's writes, in place", async (t) => {
  t.timeout(FIRST_USE_MS);
  const s = await setup(t);
  const theirs: RouteParent = {
    parentRef: { group: "gateway.networking.k8s.io", kind: "Gateway", namespace: s.ns, name: "their-gateway" },
    controllerName: OTHER_CONTROLLER,
    conditions: [{ type: "Accepted", status: "False", reason: "NotAllowedByListeners", message: "theirs", lastTransitionTime: "2024-01-02T03:04:05Z", observedGeneration: 1 }],
  };
  // Written with the admin credential before meshgate writes anything.
  await patchStatus(s, "httproute", "shop", { parents: [theirs] });
  const scanned = { type: "example.net/Scanned", status: "True", reason: "Clean", message: "scanned", lastTransitionTime: "2024-01-02T03:04:05Z", observedGeneration: 1 };
  const gatewayConditions = (await getJson(s, "gateway", "edge")).status?.conditions ?? [];
  await patchStatus(s, "gateway", "edge", { conditions: [scanned, ...gatewayConditions] });

  const h = harness(t, s);
  h.writer.setLeader(true);
  h.writer.publish(desired(s));
  await h.writer.idle();
  let parents = (await getJson(s, "httproute", "shop")).status?.parents ?? [];
  t.deepEqual(parents.map((p) => p.controllerName), [OTHER_CONTROLLER, CONTROLLER_NAME]);
  t.deepEqual(parents[0], theirs);
  t.deepEqual((await getJson(s, "gateway", "edge")).status?.conditions?.[0], scanned);

  // A later change of meshgate's entry still leaves theirs as it was.
  h.clock.now = new Date(h.clock.now.getTime() + 3_000);
  h.writer.publish(desired(s, withoutService(s.text)));
  await h.writer.idle();
  parents = (await getJson(s, "httproute", "shop")).status?.parents ?? [];
  t.deepEqual(parents[0], theirs);
  t.is(byType(parents[1]?.conditions, "ResolvedRefs")?.status, "False");
  t.is(await h.count("written", "HTTPRoute"), 2, await outcomes(h));
});

test("a status changed between meshgate's read and its write: 409, re-read, recomputed on the new status, converged", async (t) => {
  t.timeout(FIRST_USE_MS);
  const s = await setup(t);
  const h = harness(t, s);
  h.writer.setLeader(true);
  h.writer.publish(desired(s));
  await h.writer.idle();
  // The view meshgate computes from (a cache that has not seen the next change yet)...
  const read = await getJson(s, "httproute", "shop");
  const stale: CurrentObject = { generation: read.metadata.generation, resourceVersion: read.metadata.resourceVersion, status: read.status };
  // ...then another controller adds its entry, read-modify-write, as the spec asks.
  const theirs = {
    parentRef: { group: "gateway.networking.k8s.io", kind: "Gateway", namespace: s.ns, name: "their-gateway" },
    controllerName: OTHER_CONTROLLER,
    conditions: [{ type: "Accepted", status: "True", reason: "Accepted", message: "theirs", lastTransitionTime: "2024-01-02T03:04:05Z", observedGeneration: 1 }],
  };
  await patchStatus(s, "httproute", "shop", { parents: [...(read.status?.parents ?? []), theirs] });

  const lagging = harness(t, s, (ref) => (ref.kind === "HTTPRoute" && ref.name === "shop" ? stale : s.e.cache.current(ref)));
  lagging.writer.setLeader(true);
  lagging.clock.now = new Date(h.clock.now.getTime() + 2_000);
  lagging.writer.publish(desired(s, withoutService(s.text)));
  await lagging.writer.idle();
  t.log(`lagging writer: ${await outcomes(lagging)}`);
  t.is(await lagging.count("conflict", "HTTPRoute"), 1);
  t.is(await lagging.count("written", "HTTPRoute"), 1);
  t.is(await lagging.count("error"), 0);
  const parents = (await getJson(s, "httproute", "shop")).status?.parents ?? [];
  t.deepEqual(parents.map((p) => p.controllerName), [CONTROLLER_NAME, OTHER_CONTROLLER]);
  t.is(byType(parents[0]?.conditions, "ResolvedRefs")?.status, "False");
});

test("a writer that is not leader writes nothing; on becoming leader it writes, and repairs what changed meanwhile", async (t) => {
  t.timeout(FIRST_USE_MS);
  const s = await setup(t);
  const h = harness(t, s);
  h.writer.publish(desired(s));
  await h.writer.idle();
  await new Promise((r) => setTimeout(r, 1000));
  t.is(await h.count("written"), 0);
  // The CRD's default status until a controller writes: Unknown, Pending.
  t.like(byType((await getJson(s, "gateway", "edge")).status?.conditions, "Programmed"), { status: "Unknown", reason: "Pending" });

  h.writer.setLeader(true);
  await h.writer.idle();
  t.is(await h.count("written"), 4, await outcomes(h));
  t.like(byType((await getJson(s, "gateway", "edge")).status?.conditions, "Programmed"), { status: "True" });

  // Leadership lost; meanwhile meshgate's entry is wiped (a stale former leader, a user). On
  // becoming leader again, every object is checked, not only those a new report changes.
  h.writer.setLeader(false);
  await patchStatus(s, "httproute", "shop", { parents: [] });
  await eventually(t, "the informer to see the wipe", () => {
    const status = s.e.cache.current({ kind: "HTTPRoute", namespace: s.ns, name: "shop" })?.status as { parents?: unknown[] } | undefined;
    return status?.parents?.length === 0;
  });
  h.writer.setLeader(true);
  await h.writer.idle();
  t.is(await h.count("written"), 5, await outcomes(h));
  t.is((await getJson(s, "httproute", "shop")).status?.parents?.[0]?.controllerName, CONTROLLER_NAME);
});

test("a deleted object: confirmed gone with one read, counted once per report, never retried in a loop", async (t) => {
  t.timeout(FIRST_USE_MS);
  const s = await setup(t);
  const h = harness(t, s);
  h.writer.setLeader(true);
  h.writer.publish(desired(s));
  await h.writer.idle();
  const before = await getJson(s, "httproute", "shop");
  const snapshot: CurrentObject = { generation: before.metadata.generation, resourceVersion: before.metadata.resourceVersion, status: before.status };
  await kubectl(s.e.server.kubeconfigPath, ["delete", "httproute", "shop", "-n", s.ns]);
  await eventually(t, "the informer to drop the route", () => s.e.cache.current({ kind: "HTTPRoute", namespace: s.ns, name: "shop" }) === undefined);

  // The report still names it (the store has not caught up): the cache misses, a GET says 404.
  h.writer.publish(desired(s));
  await h.writer.idle();
  t.is(await h.count("not_found", "HTTPRoute"), 1, await outcomes(h));
  await new Promise((r) => setTimeout(r, 2500));
  t.is(await h.count("not_found"), 1, await outcomes(h));
  t.is(await h.count("error"), 0);
  t.is(await h.count("written"), 4);

  // A cache that still holds it while the report changes: the PATCH itself answers 404.
  const lagging = harness(t, s, (ref) => (ref.kind === "HTTPRoute" && ref.name === "shop" ? snapshot : s.e.cache.current(ref)));
  lagging.writer.setLeader(true);
  lagging.writer.publish(desired(s, withoutService(s.text)));
  await lagging.writer.idle();
  await new Promise((r) => setTimeout(r, 1500));
  t.is(await lagging.count("not_found", "HTTPRoute"), 1, await outcomes(lagging));
  t.is(await lagging.count("error"), 0);
});

test("objects the cache has not seen yet are read directly, not taken for deleted", async (t) => {
  t.timeout(FIRST_USE_MS);
  const s = await setup(t);
  // An informer that lags behind the objects just created (or lost them for a moment).
  const h = harness(t, s, () => undefined);
  h.writer.setLeader(true);
  h.writer.publish(desired(s));
  await h.writer.idle();
  t.is(await h.count("written"), 4, await outcomes(h));
  t.is(await h.count("not_found"), 0);
  // And the same report again: read, compared, equal: nothing written.
  h.writer.publish(desired(s));
  await h.writer.idle();
  t.is(await h.count("written"), 4, await outcomes(h));
});

test("an object whose spec moved past the report is left for the next report", async (t) => {
  t.timeout(FIRST_USE_MS);
  const s = await setup(t);
  const h = harness(t, s);
  h.writer.setLeader(true);
  h.writer.publish(desired(s));
  await h.writer.idle();
  await kubectl(s.e.server.kubeconfigPath, ["patch", "httproute", "shop", "-n", s.ns, "--type=merge", "-p", JSON.stringify({ spec: { hostnames: ["moved.example.test"] } })]);
  await eventually(t, "the informer to see generation 2", () => s.e.cache.current({ kind: "HTTPRoute", namespace: s.ns, name: "shop" })?.generation === 2);
  // A report computed before the change (generation 1) that would change the route's status.
  h.writer.publish(desired(s, withoutService(s.text)));
  await h.writer.idle();
  t.is(await h.count("stale_generation", "HTTPRoute"), 1, await outcomes(h));
  t.is(await h.count("written", "HTTPRoute"), 1);
  // The report of generation 2 is written, with observedGeneration 2.
  h.writer.publish(desired(s, s.text.replace(route(s.ns, "shop"), route(s.ns, "shop", { generation: 2, hostname: "moved.example.test" }))));
  await h.writer.idle();
  t.is(await h.count("written", "HTTPRoute"), 2, await outcomes(h));
  const parent = (await getJson(s, "httproute", "shop")).status?.parents?.[0];
  t.deepEqual(parent?.conditions.map((c) => c.observedGeneration), [2, 2]);
});

/** A service account with `rules`, and a kubeconfig holding a token of its (TokenRequest API). */
async function limitedCredential(t: ExecutionContext, s: Setup, name: string, rules: unknown[]): Promise<KubeClient> {
  const role = `${name}-${s.ns}`;
  await kubectl(
    s.e.server.kubeconfigPath,
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: [
        { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: s.ns } },
        { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: role }, rules },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRoleBinding",
          metadata: { name: role },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
          subjects: [{ kind: "ServiceAccount", name, namespace: s.ns }],
        },
      ],
    }),
  );
  t.teardown(() => kubectl(s.e.server.kubeconfigPath, ["delete", "clusterrole,clusterrolebinding", role, "--wait=false"]).then(() => undefined));
  const token = (await kubectl(s.e.server.kubeconfigPath, ["create", "token", name, "-n", s.ns])).trim();
  const path = join(mkdtempSync(join(tmpdir(), "meshgate-limited-")), "kubeconfig");
  writeFileSync(path, kubeconfig(s.e.server.url, s.e.server.caPem, name, token), { mode: 0o600 });
  return new KubeClient({ kubeconfig: path });
}

const GATEWAY_KINDS = ["gatewayclasses", "gateways", "httproutes", "tlsroutes"];

test("the rights README names are enough; without one of them that kind's writes fail, are counted and retried, the rest is written", async (t) => {
  t.timeout(FIRST_USE_MS);
  const s = await setup(t);
  const readme = [
    { apiGroups: ["gateway.networking.k8s.io"], resources: GATEWAY_KINDS, verbs: ["get", "list", "watch"] },
    { apiGroups: ["gateway.networking.k8s.io"], resources: GATEWAY_KINDS.map((k) => `${k}/status`), verbs: ["patch"] },
    { apiGroups: ["meshgate.io"], resources: ["*"], verbs: ["get", "list", "watch"] },
    { apiGroups: ["meshgate.io"], resources: ["*/status"], verbs: ["patch"] },
  ];
  const limited = harness(t, s, () => undefined, await limitedCredential(t, s, "status-writer", readme));
  limited.writer.setLeader(true);
  limited.writer.publish(desired(s));
  await limited.writer.idle();
  t.is(await limited.count("written"), 4, await outcomes(limited));

  // The same rights less patching HTTPRoute status (a Role someone got wrong).
  const noRoutes = readme.map((r) => (r.verbs.includes("patch") && r.apiGroups[0] === "gateway.networking.k8s.io" ? { ...r, resources: r.resources.filter((x) => x !== "httproutes/status") } : r));
  const denied = harness(t, s, () => undefined, await limitedCredential(t, s, "no-routes", noRoutes));
  denied.writer.setLeader(true);
  denied.writer.publish(desired(s, withoutService(s.text)));
  await denied.writer.idle();
  t.is(await denied.count("error", "HTTPRoute"), 1, await outcomes(denied));
  // Back-off: 0.5 s, then 1 s, then 2 s (±20 %): a few retries in 2.5 s, not a storm.
  await new Promise((r) => setTimeout(r, 2500));
  const retries = await denied.count("error", "HTTPRoute");
  t.log(`403 on HTTPRoute status: ${retries} failed attempts in 2.5 s; ${await outcomes(denied)}`);
  t.true(retries >= 2 && retries <= 4, `${retries} attempts`);
  t.is(byType((await getJson(s, "httproute", "shop")).status?.parents?.[0]?.conditions, "ResolvedRefs")?.status, "True", "nothing was written to the route");
});

test("a burst of 200 routes: 200 route writes, then a resync writes none", async (t) => {
  t.timeout(FIRST_USE_MS);
  const s = await setup(t, { routes: (ns) => Array.from({ length: 200 }, (_, i) => route(ns, `r${String(i).padStart(3, "0")}`)).join("") });
  const h = harness(t, s);
  h.writer.setLeader(true);
  const report = desired(s);
  const started = Date.now();
  h.writer.publish(report);
  await h.writer.idle();
  const elapsed = Date.now() - started;
  t.log(`200 routes + Gateway + GatewayClass + policy: ${elapsed} ms to write every status (4 requests in flight), ${await outcomes(h)}`);
  t.is(await h.count("written", "HTTPRoute"), 200, await outcomes(h));
  t.is(await h.count("written"), 203);
  t.is((await getJson(s, "gateway", "edge")).status?.listeners?.[0]?.attachedRoutes, 200);

  const resync = Date.now();
  h.writer.publish(desired(s));
  await h.writer.idle();
  t.log(`resync of 203 unchanged objects: ${Date.now() - resync} ms, ${await outcomes(h)}`);
  t.is(await h.count("written"), 203);
  t.is(await h.count("conflict"), 0);
});
