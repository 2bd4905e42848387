// The test control plane (test/kube/apiserver) is a real Kubernetes API server: it answers
// /readyz, serves the upstream Gateway API CRDs with their validation, keeps what kubectl writes,
// collects garbage by owner reference, finishes namespace deletion, and survives a restart on
// the same data dir. One server is shared by this file's tests, each in its own namespaces.
import test from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "../support/net.js";
import { get, kubectl, startKubeApiServer } from "./server.js";
import { sharedKubeApiServer, stopSharedKubeApiServer, testNamespace } from "./shared.js";

// The first test to ask may wait for a build (tens of minutes cold; CI builds before the suite)
// and for the start-up; the readiness wait inside has its own bound.
const FIRST_USE_MS = 95 * 60_000;
const COLLECTION_MS = 90_000;

test.after.always(stopSharedKubeApiServer);

interface KubeObject {
  metadata: { name: string; uid: string; namespace?: string };
  spec?: Record<string, unknown>;
}

test("/readyz answers ok, and /version reports the pinned Kubernetes release", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  t.log(`control plane start-up (spawn to /readyz ok and the Gateway API and meshgate CRDs Established): ${server.startupMs} ms`);
  const ready = await get(server.url, "/readyz", server.token, server.caPem);
  t.is(ready.status, 200);
  t.is(ready.body, "ok");
  const version = JSON.parse((await get(server.url, "/version", server.token, server.caPem)).body) as { gitVersion: string; major: string };
  t.regex(version.gitVersion, /^v1\.\d+\.\d+$/);
  t.is(version.major, "1");
  // The admin token is what lets tests in: a wrong token is not authenticated, and without one
  // the request is anonymous and RBAC forbids it.
  t.is((await get(server.url, "/api/v1/namespaces", "not-the-token", server.caPem)).status, 401);
  t.is((await get(server.url, "/api/v1/namespaces", "", server.caPem)).status, 403);
  t.is((await get(server.url, "/api/v1/namespaces", server.token, server.caPem)).status, 200);
});

test("kubectl get crd lists the Gateway API kinds, TLSRoute served at v1", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const names = (await kubectl(server.kubeconfigPath, ["get", "crd", "-o", "name"])).trim().split("\n");
  for (const plural of ["gateways", "httproutes", "tlsroutes", "referencegrants", "gatewayclasses"]) {
    t.true(names.includes(`customresourcedefinition.apiextensions.k8s.io/${plural}.gateway.networking.k8s.io`), `${plural} missing from ${names.join(", ")}`);
  }
  const served = await kubectl(server.kubeconfigPath, [
    "get",
    "crd",
    "tlsroutes.gateway.networking.k8s.io",
    "-o",
    "jsonpath={.spec.versions[?(@.served==true)].name}",
  ]);
  t.true(served.split(" ").includes("v1"), `TLSRoute serves ${served}`);
});

test("a Gateway and an HTTPRoute created with kubectl read back as written; an invalid one is refused", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const namespace = await testNamespace(t, server, "routes");
  const manifest = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge, namespace: ${namespace} }
spec:
  gatewayClassName: meshgate
  listeners:
    - { name: http, protocol: HTTP, port: 8080, hostname: "*.example.test" }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: shop, namespace: ${namespace} }
spec:
  parentRefs: [{ name: edge, sectionName: http }]
  hostnames: [shop.example.test]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /cart } }]
      backendRefs: [{ name: cart, port: 8081 }]
`;
  await kubectl(server.kubeconfigPath, ["apply", "-f", "-"], manifest);
  const gateway = JSON.parse(await kubectl(server.kubeconfigPath, ["get", "-n", namespace, "gateway", "edge", "-o", "json"])) as KubeObject;
  t.is(gateway.spec?.gatewayClassName, "meshgate");
  t.deepEqual(gateway.spec?.listeners, [{ name: "http", protocol: "HTTP", port: 8080, hostname: "*.example.test", allowedRoutes: { namespaces: { from: "Same" } } }]);
  const route = JSON.parse(await kubectl(server.kubeconfigPath, ["get", "-n", namespace, "httproute", "shop", "-o", "json"])) as KubeObject;
  t.deepEqual(route.spec?.hostnames, ["shop.example.test"]);
  t.like((route.spec?.rules as unknown[])[0], {
    matches: [{ path: { type: "PathPrefix", value: "/cart" } }],
    backendRefs: [{ name: "cart", port: 8081 }],
  });
  t.like((route.spec?.parentRefs as unknown[])[0], { name: "edge", sectionName: "http" });

  // The CRD's schema is enforced: a path that does not start with "/" is refused, not stored.
  const invalid = manifest.replace("value: /cart", "value: cart").replace("name: shop,", "name: broken,");
  const refused = await kubectl(server.kubeconfigPath, ["apply", "-f", "-"], invalid).then(
    () => undefined,
    (error: Error) => error.message,
  );
  t.truthy(refused, "the invalid HTTPRoute was accepted");
  t.regex(refused ?? "", /HTTPRoute.*broken.*is invalid|Invalid value/);
  await t.throwsAsync(kubectl(server.kubeconfigPath, ["get", "-n", namespace, "httproute", "broken"]), { message: /NotFound|not found/ });
});

test("a ConfigMap owned by another is garbage-collected when its owner is deleted", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const namespace = await testNamespace(t, server, "gc");
  await kubectl(server.kubeconfigPath, ["create", "configmap", "-n", namespace, "owner", "--from-literal=k=v"]);
  await kubectl(server.kubeconfigPath, ["create", "configmap", "-n", namespace, "bystander", "--from-literal=k=v"]);
  const owner = JSON.parse(await kubectl(server.kubeconfigPath, ["get", "configmap", "-n", namespace, "owner", "-o", "json"])) as KubeObject;
  const dependent = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "dependent",
      namespace,
      ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata.uid }],
    },
    data: { k: "v" },
  };
  await kubectl(server.kubeconfigPath, ["create", "-f", "-"], JSON.stringify(dependent));

  const deleted = Date.now();
  await kubectl(server.kubeconfigPath, ["delete", "configmap", "-n", namespace, "owner"]);
  const names = async () => (await kubectl(server.kubeconfigPath, ["get", "configmap", "-n", namespace, "-o", "name"])).trim().split("\n");
  await waitFor(async () => !(await names()).includes("configmap/dependent"), COLLECTION_MS, 250);
  t.log(`dependent collected ${Date.now() - deleted} ms after its owner was deleted`);
  // Only the dependent went: the collector follows owner references, it does not sweep the namespace.
  t.true((await names()).includes("configmap/bystander"));
});

test("deleting a namespace completes: its objects go and the namespace is gone, not stuck Terminating", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const namespace = await testNamespace(t, server, "doomed");
  await kubectl(server.kubeconfigPath, ["create", "configmap", "-n", namespace, "settings", "--from-literal=k=v"]);
  await kubectl(
    server.kubeconfigPath,
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: "edge", namespace },
      spec: { gatewayClassName: "meshgate", listeners: [{ name: "http", protocol: "HTTP", port: 80 }] },
    }),
  );
  const deleted = Date.now();
  await kubectl(server.kubeconfigPath, ["delete", "namespace", namespace, "--wait=false"]);
  await waitFor(
    async () =>
      kubectl(server.kubeconfigPath, ["get", "namespace", namespace]).then(
        () => false,
        (error: Error) => /NotFound|not found/.test(error.message),
      ),
    COLLECTION_MS,
    250,
  );
  t.log(`namespace with a ConfigMap and a Gateway deleted in ${Date.now() - deleted} ms`);
  const gateways = await kubectl(server.kubeconfigPath, ["get", "gateways", "-A", "--field-selector", `metadata.namespace=${namespace}`, "-o", "name"]);
  t.is(gateways.trim(), "");
});

test("a server stopped and started again on the same data dir keeps its objects, port and credentials", async (t) => {
  t.timeout(FIRST_USE_MS);
  const dataDir = mkdtempSync(join(tmpdir(), "meshgate-kube-restart-"));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  // No CRDs are needed to show persistence; a core object and a CRD would show the same.
  const first = await startKubeApiServer({ dataDir, gatewayApiCrds: false, meshgateCrds: false });
  t.teardown(() => first.stop());
  t.log(`first start on a fresh data dir: ${first.startupMs} ms`);
  await kubectl(first.kubeconfigPath, ["create", "configmap", "survivor", "--from-literal=kept=yes"]);
  await first.stop();
  await t.throwsAsync(get(first.url, "/readyz", first.token, first.caPem), undefined, "the first server still answers after stop()");

  const second = await startKubeApiServer({ dataDir, gatewayApiCrds: false, meshgateCrds: false });
  t.teardown(() => second.stop());
  t.log(`restart on the same data dir: ${second.startupMs} ms`);
  t.is(second.url, first.url);
  t.not(second.pid, first.pid);
  // The kubeconfig written for the first start still works, and the object is still there.
  const kept = await kubectl(first.kubeconfigPath, ["get", "configmap", "survivor", "-o", "jsonpath={.data.kept}"]);
  t.is(kept, "yes");
});
