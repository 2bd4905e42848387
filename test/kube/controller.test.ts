// `meshgate controller --serve` against a real kube-apiserver: objects written with kubectl
// become routes that carry traffic to real backends; changes and deletions follow.
import test from "ava";
import { X509Certificate } from "node:crypto";
import { request as httpsRequest } from "node:https";
import { startBackend } from "../support/backend.js";
import { freePort, waitFor } from "../support/net.js";
import { makeCa } from "../support/tls-certs.js";
import { counterValue, httpGet, startController } from "./harness.js";
import { kubectl } from "./server.js";
import { sharedKubeApiServer, stopSharedKubeApiServer, testNamespace } from "./shared.js";
import { endpointAddress } from "./endpoint-address.js";
import { gatewayClassYaml, gatewayYaml, httpRouteYaml, serviceYaml } from "./objects.js";

const FIRST_USE_MS = 95 * 60_000;

test.after.always(stopSharedKubeApiServer);

test("objects applied with kubectl carry traffic; a route change and a deletion follow", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const ns = await testNamespace(t, server);
  const address = await endpointAddress();
  const [blue, green] = [await startBackend("blue", true, address), await startBackend("green", true, address)];
  t.teardown(() => Promise.all([blue.close(), green.close()]));
  const port = await freePort();
  const cls = `meshgate-${ns}`;
  t.teardown(() => kubectl(server.kubeconfigPath, ["delete", "gatewayclass", cls, "--ignore-not-found"]).then(() => undefined));
  await kubectl(
    server.kubeconfigPath,
    ["apply", "-f", "-"],
    [
      gatewayClassYaml(cls, `meshgate.io/${ns}`),
      gatewayYaml(ns, "edge", cls, port),
      serviceYaml(ns, "blue", blue.port),
      serviceYaml(ns, "green", green.port),
      httpRouteYaml(ns, "app", "edge", "app.example.com", [{ service: "blue" }]),
    ].join("---\n"),
  );
  const controller = await startController(server.kubeconfigPath, `meshgate.io/${ns}`);
  t.teardown(() => controller.stop().then(() => undefined));
  await controller.synced();
  await waitFor(async () => (await httpGet(port, "app.example.com")).backend === "blue", 20_000, 100);
  t.is((await httpGet(port, "other.example.com")).status, 404);

  // Edit: the route now goes to green.
  const changed = Date.now();
  await kubectl(server.kubeconfigPath, ["apply", "-f", "-"], httpRouteYaml(ns, "app", "edge", "app.example.com", [{ service: "green" }]));
  await waitFor(async () => (await httpGet(port, "app.example.com")).backend === "green", 20_000, 20);
  t.log(`route change to traffic: ${Date.now() - changed} ms`);

  // Delete: the route is gone.
  await kubectl(server.kubeconfigPath, ["delete", "httproute", "app", "-n", ns]);
  await waitFor(async () => (await httpGet(port, "app.example.com")).status === 404, 20_000, 50);
  t.true(blue.received.length > 0 && green.received.length > 0);
});

test("a GatewayClass of another controller is not served, nor its Gateways", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const ns = await testNamespace(t, server);
  const backend = await startBackend("b", true, await endpointAddress());
  t.teardown(() => backend.close());
  const [oursPort, theirsPort] = [await freePort(), await freePort()];
  const ours = `meshgate-${ns}`;
  const theirs = `other-${ns}`;
  t.teardown(() => kubectl(server.kubeconfigPath, ["delete", "gatewayclass", ours, theirs, "--ignore-not-found"]).then(() => undefined));
  await kubectl(
    server.kubeconfigPath,
    ["apply", "-f", "-"],
    [
      gatewayClassYaml(ours, `meshgate.io/${ns}`),
      gatewayClassYaml(theirs, "example.com/another-controller"),
      gatewayYaml(ns, "ours", ours, oursPort),
      gatewayYaml(ns, "theirs", theirs, theirsPort),
      serviceYaml(ns, "b", backend.port),
      httpRouteYaml(ns, "r1", "ours", "a.example.com", [{ service: "b" }]),
      httpRouteYaml(ns, "r2", "theirs", "a.example.com", [{ service: "b" }]),
    ].join("---\n"),
  );
  const controller = await startController(server.kubeconfigPath, `meshgate.io/${ns}`);
  t.teardown(() => controller.stop().then(() => undefined));
  await controller.synced();
  await waitFor(async () => (await httpGet(oursPort, "a.example.com")).status === 200, 20_000, 100);
  t.is((await httpGet(theirsPort, "a.example.com")).status, 0, "nothing listens on the other controller's Gateway port");
  await controller.settled();
  const report = controller.status;
  t.truthy(report);
  t.deepEqual(
    report?.gateways.filter((g) => g.namespace === ns).map((g) => g.name),
    ["ours"],
  );
  t.false(report?.gatewayClasses.some((c) => c.name === theirs));
  const r2 = report?.httpRoutes.find((r) => r.namespace === ns && r.name === "r2");
  t.deepEqual(r2?.parents, [], "no parent status for another controller's Gateway");
});

function tlsSecretYaml(ns: string, name: string, certPem: string, keyPem: string): string {
  return `apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: ${ns}}
type: kubernetes.io/tls
data:
  tls.crt: ${Buffer.from(certPem).toString("base64")}
  tls.key: ${Buffer.from(keyPem).toString("base64")}
`;
}

/** The certificate the gateway presents for `servername` and the answer's status. */
function httpsGet(port: number, servername: string, ca: string): Promise<{ status: number; fingerprint: string }> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      { host: "127.0.0.1", port, servername, ca, headers: { host: servername }, agent: false, timeout: 5000 },
      (res) => {
        const fingerprint = (res.socket as import("node:tls").TLSSocket).getPeerCertificate().fingerprint256;
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, fingerprint }));
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve({ status: 0, fingerprint: "" }));
    req.end();
  });
}

test("TLS listeners: a Secret created later is served, a newly referenced one is read at once, a bad one keeps the last good certificate; unreferenced Secrets are not kept", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const ns = await testNamespace(t, server);
  const backend = await startBackend("secure", true, await endpointAddress());
  t.teardown(() => backend.close());
  const ca = await makeCa();
  const [first, second] = [await ca.issue(["secure.example.com"]), await ca.issue(["secure.example.com"])];
  const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
  const [port, plainPort] = [await freePort(), await freePort()];
  const cls = `meshgate-${ns}`;
  const controllerName = `meshgate.io/${ns}`;
  t.teardown(() => kubectl(server.kubeconfigPath, ["delete", "gatewayclass", cls, "--ignore-not-found"]).then(() => undefined));
  const gateway = (secret: string) =>
    gatewayYaml(ns, "edge", cls, plainPort, `  - name: https
    port: ${port}
    protocol: HTTPS
    hostname: secure.example.com
    tls: {certificateRefs: [{name: ${secret}}]}
`);
  await kubectl(
    server.kubeconfigPath,
    ["apply", "-f", "-"],
    [
      gatewayClassYaml(cls, controllerName),
      gateway("cert"),
      serviceYaml(ns, "secure", backend.port),
      httpRouteYaml(ns, "app", "edge", "secure.example.com", [{ service: "secure" }]),
      tlsSecretYaml(ns, "other", second.chainPem, second.keyPem),
    ].join("---\n"),
  );
  const controller = await startController(server.kubeconfigPath, controllerName);
  t.teardown(() => controller.stop().then(() => undefined));
  await controller.synced();
  t.is((await httpsGet(port, "secure.example.com", ca.certPem)).status, 0, "no certificate yet: the listener is not served");

  await kubectl(server.kubeconfigPath, ["apply", "-f", "-"], tlsSecretYaml(ns, "cert", first.chainPem, first.keyPem));
  await waitFor(async () => (await httpsGet(port, "secure.example.com", ca.certPem)).status === 200, 20_000, 50);
  t.is((await httpsGet(port, "secure.example.com", ca.certPem)).fingerprint, fingerprint(first.certPem));
  t.is(await counterValue(controller, "meshgate_kube_objects", { kind: "Secret" }), 1, "only the referenced Secret is kept");

  // "other" existed all along, unreferenced: once referenced it is read with a GET.
  await kubectl(server.kubeconfigPath, ["apply", "-f", "-"], gateway("other"));
  await waitFor(async () => (await httpsGet(port, "secure.example.com", ca.certPem)).fingerprint === fingerprint(second.certPem), 20_000, 50);

  // A Secret that turns bad keeps the last good certificate.
  await kubectl(server.kubeconfigPath, ["apply", "-f", "-"], tlsSecretYaml(ns, "other", "not a certificate", "not a key"));
  await controller.settled();
  const after = await httpsGet(port, "secure.example.com", ca.certPem);
  t.is(after.status, 200);
  t.is(after.fingerprint, fingerprint(second.certPem));
});

test("a route naming a Service that does not exist: ResolvedRefs=False BackendNotFound, and 500", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const ns = await testNamespace(t, server);
  const port = await freePort();
  const cls = `meshgate-${ns}`;
  const controllerName = `meshgate.io/${ns}`;
  t.teardown(() => kubectl(server.kubeconfigPath, ["delete", "gatewayclass", cls, "--ignore-not-found"]).then(() => undefined));
  await kubectl(
    server.kubeconfigPath,
    ["apply", "-f", "-"],
    [gatewayClassYaml(cls, controllerName), gatewayYaml(ns, "edge", cls, port), httpRouteYaml(ns, "app", "edge", "app.example.com", [{ service: "missing" }])].join("---\n"),
  );
  const controller = await startController(server.kubeconfigPath, controllerName);
  t.teardown(() => controller.stop().then(() => undefined));
  await waitFor(async () => (await httpGet(port, "app.example.com")).status === 500, 20_000, 50);
  const parent = controller.status?.httpRoutes.find((r) => r.namespace === ns)?.parents[0];
  const resolved = parent?.conditions.find((c) => c.type === "ResolvedRefs");
  t.is(resolved?.status, "False");
  t.is(resolved?.reason, "BackendNotFound");
});
