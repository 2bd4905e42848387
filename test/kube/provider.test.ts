// The provider's watches survive what real clusters do to them, against a real API server of
// this file's own (restarted here): the API server going away and coming back, a partition long
// enough for etcd to compact the watched versions away (410 Gone: relist), RBAC that refuses one
// kind, and a burst of 1,000 objects (debounced into a few translations, not one per event).
import test from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeClient } from "../../controller/provider/kubernetes/client.js";
import { controllerRules } from "../../controller/provider/kubernetes/rbac.js";
import { startBackend, type TestBackend } from "../support/backend.js";
import { freePort, waitFor } from "../support/net.js";
import { startPausableProxy } from "../support/pausable-proxy.js";
import { adminKubeconfigVia, grant, serviceAccountKubeconfig } from "./credentials.js";
import { endpointAddress } from "./endpoint-address.js";
import { counterValue, httpGet, startController } from "./harness.js";
import { gatewayClassYaml, gatewayYaml, httpRouteYaml, serviceYaml } from "./objects.js";
import { type KubeApiServer, kubectl, startKubeApiServer } from "./server.js";

const FIRST_USE_MS = 95 * 60_000;
// Without the watch cache, watches read etcd itself; with compaction every 2 s, a version goes
// out of reach soon after a partition begins, so a resumed watch gets 410 Gone.
const API_SERVER_ARGS = ["--watch-cache=false", "--etcd-compaction-interval=2s"];

const dataDir = mkdtempSync(join(tmpdir(), "meshgate-provider-"));
let server: KubeApiServer | undefined;
let backend: TestBackend | undefined;

async function cluster(): Promise<{ server: KubeApiServer; backend: TestBackend }> {
  server ??= await startKubeApiServer({ dataDir, apiServerArgs: API_SERVER_ARGS });
  backend ??= await startBackend("b", true, await endpointAddress());
  return { server, backend };
}

test.after.always(async () => {
  await server?.stop();
  await backend?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A namespace, a class of the test's own controller name, a Gateway on a free port and Service b. */
async function setUp(s: KubeApiServer, b: TestBackend, ns: string): Promise<{ port: number; controllerName: string }> {
  const port = await freePort();
  const controllerName = `meshgate.io/${ns}`;
  await kubectl(s.kubeconfigPath, ["create", "namespace", ns]);
  await kubectl(s.kubeconfigPath, ["apply", "-f", "-"], [gatewayClassYaml(ns, controllerName), gatewayYaml(ns, "edge", ns, port), serviceYaml(ns, "b", b.port)].join("---\n"));
  return { port, controllerName };
}

const route = (s: KubeApiServer, ns: string, name: string, host: string) =>
  kubectl(s.kubeconfigPath, ["apply", "-f", "-"], httpRouteYaml(ns, name, "edge", host, [{ service: "b" }]));

const served = (port: number, host: string) => async () => (await httpGet(port, host)).status === 200;
const gone = (port: number, host: string) => async () => (await httpGet(port, host)).status === 404;

test.serial("the API server restarts: traffic keeps flowing on the last configuration, and the watches resume", async (t) => {
  t.timeout(FIRST_USE_MS);
  const { server: s, backend: b } = await cluster();
  const { port, controllerName } = await setUp(s, b, "restart");
  await route(s, "restart", "one", "one.example.com");
  const controller = await startController(s.kubeconfigPath, controllerName);
  t.teardown(() => controller.stop().then(() => undefined));
  await waitFor(served(port, "one.example.com"), 20_000, 50);

  await s.stop();
  await waitFor(() => controller.provider.report().some((k) => k.phase === "failing"), 20_000, 50);
  t.is((await httpGet(port, "one.example.com")).status, 200, "the data plane serves on while the API server is away");

  const restarted = Date.now();
  server = await startKubeApiServer({ dataDir, gatewayApiCrds: false, meshgateCrds: false, apiServerArgs: API_SERVER_ARGS });
  await route(server, "restart", "two", "two.example.com");
  await waitFor(served(port, "two.example.com"), 30_000, 50);
  t.log(`API server back in ${server.startupMs} ms; a route created after it served ${Date.now() - restarted} ms after the restart began`);
  t.true(await served(port, "one.example.com")());
  const failures = await counterValue(controller, "meshgate_kube_watch_failures_total");
  t.true(failures > 0, "the failures were counted");
});

test.serial("a partition outlasting etcd's compaction: the resumed watch gets 410 Gone and relists", async (t) => {
  t.timeout(FIRST_USE_MS);
  const { server: s, backend: b } = await cluster();
  const { port, controllerName } = await setUp(s, b, "partition");
  await route(s, "partition", "kept", "kept.example.com");
  await route(s, "partition", "dropped", "dropped.example.com");
  const proxy = await startPausableProxy(Number(new URL(s.url).port));
  t.teardown(() => proxy.close());
  const controller = await startController(adminKubeconfigVia(s, proxy.port), controllerName, {
    // Long back-off: the partition must outlast the compaction before the first retry.
    timing: { backoffMs: 6000, maxBackoffMs: 6000 },
  });
  t.teardown(() => controller.stop().then(() => undefined));
  await waitFor(served(port, "dropped.example.com"), 20_000, 50);

  proxy.cut();
  // Changes the controller cannot see, each one a new etcd revision; then compaction passes them.
  await kubectl(s.kubeconfigPath, ["delete", "httproute", "dropped", "-n", "partition"]);
  await route(s, "partition", "added", "added.example.com");
  for (let i = 0; i < 5; i++) await kubectl(s.kubeconfigPath, ["annotate", "--overwrite", "namespace", "partition", `tick=${i}`]);
  await new Promise((r) => setTimeout(r, 5000));
  t.is((await httpGet(port, "dropped.example.com")).status, 200, "nothing changed while partitioned");
  proxy.resume();

  await waitFor(served(port, "added.example.com"), 60_000, 50);
  await waitFor(gone(port, "dropped.example.com"), 10_000, 50);
  t.true(await served(port, "kept.example.com")());
  const relists = await counterValue(controller, "meshgate_kube_watch_failures_total", { reason: "gone" });
  t.log(`watches answered 410 Gone and relisted: ${relists}`);
  t.true(relists > 0);
});

test.serial("RBAC refuses one kind: reported, the rest keeps working; granted later, it recovers", async (t) => {
  t.timeout(FIRST_USE_MS);
  const { server: s, backend: b } = await cluster();
  const { port, controllerName } = await setUp(s, b, "rbac");
  await route(s, "rbac", "r", "r.example.com");
  const all = controllerRules();
  // Everything but ReferenceGrants.
  const without = all.map((r) => ({ ...r, resources: r.resources.filter((x) => x !== "referencegrants") })).filter((r) => r.resources.length > 0);
  const kubeconfig = await serviceAccountKubeconfig(s, "rbac", "meshgate", without);
  const controller = await startController(kubeconfig, controllerName);
  t.teardown(() => controller.stop().then(() => undefined));
  await waitFor(served(port, "r.example.com"), 20_000, 50);
  const refused = controller.provider.report().find((k) => k.kind === "ReferenceGrant");
  t.is(refused?.phase, "failing");
  t.is(refused?.status, 403);
  t.true((await counterValue(controller, "meshgate_kube_watch_failures_total", { kind: "ReferenceGrant", reason: "forbidden" })) > 0);
  const others = controller.provider.report().filter((k) => k.kind !== "ReferenceGrant");
  t.deepEqual(others.filter((k) => k.phase !== "watching").map((k) => `${k.kind} ${k.status ?? ""}`), []);

  await grant(s, "rbac", "meshgate", all);
  await waitFor(() => controller.provider.report().find((k) => k.kind === "ReferenceGrant")?.phase === "watching", 30_000, 50);
  t.pass();
});

test.serial("1,000 HTTPRoutes created at once: a few translations, not one per event; every route served", async (t) => {
  t.timeout(FIRST_USE_MS);
  const { server: s, backend: b } = await cluster();
  const { port, controllerName } = await setUp(s, b, "burst");
  const controller = await startController(s.kubeconfigPath, controllerName);
  t.teardown(() => controller.stop().then(() => undefined));
  await controller.synced();
  const before = await counterValue(controller, "meshgate_controller_reconciles_total");

  const client = new KubeClient({ kubeconfig: s.kubeconfigPath });
  t.teardown(() => client.close());
  const count = 1000;
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < count) {
        const i = next++;
        await client.json("POST", "/apis/gateway.networking.k8s.io/v1/namespaces/burst/httproutes", {
          apiVersion: "gateway.networking.k8s.io/v1",
          kind: "HTTPRoute",
          metadata: { name: `r${i}`, namespace: "burst" },
          spec: {
            parentRefs: [{ name: "edge" }],
            hostnames: [`r${i}.example.com`],
            rules: [{ backendRefs: [{ name: "b", port: 80 }] }],
          },
        });
      }
    }),
  );
  const created = Date.now();
  await waitFor(served(port, `r${count - 1}.example.com`), 60_000, 20);
  await controller.settled();
  const lastServed = Date.now();
  for (const i of [0, 1, 499, 998]) t.true(await served(port, `r${i}.example.com`)(), `r${i}`);
  const translations = (await counterValue(controller, "meshgate_controller_reconciles_total")) - before;
  t.log(
    `${count} HTTPRoutes created by 16 clients in ${created - started} ms; the last served ${lastServed - created} ms after the last create; ${translations} translations`,
  );
  // At most one per second of burst (the trigger's longest wait), plus the one after it.
  t.true(translations <= Math.ceil((lastServed - started) / 1000) + 2, `${translations} translations`);
  t.true(translations < count / 20);
});
