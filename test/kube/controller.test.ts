// `meshgate controller --serve` against a real kube-apiserver: objects written with kubectl
// become routes that carry traffic to real backends; changes and deletions follow.
import test from "ava";
import { request } from "node:http";
import pino from "pino";
import { Controller } from "../../cli/controller.js";
import { startBackend } from "../support/backend.js";
import { freePort, waitFor } from "../support/net.js";
import { kubectl } from "./server.js";
import { sharedKubeApiServer, stopSharedKubeApiServer, testNamespace } from "./shared.js";
import { endpointAddress } from "./endpoint-address.js";
import { gatewayClassYaml, gatewayYaml, httpRouteYaml, serviceYaml } from "./objects.js";

const FIRST_USE_MS = 95 * 60_000;

test.after.always(stopSharedKubeApiServer);

/** Each test's controller has a name of its own, so that tests sharing the server never see each other's Gateways. */
async function startController(kubeconfig: string, controllerName: string, serve = true): Promise<Controller> {
  const controller = new Controller({
    kubeconfig,
    controllerName,
    serve,
    workers: 1,
    workerMode: "local",
    adminAddress: "127.0.0.1",
    adminPort: await freePort(),
    accessLog: "off",
    drainTimeoutMs: 1000,
    logger: pino({ level: "warn" }),
    timing: { backoffMs: 100, maxBackoffMs: 1000 },
  });
  await controller.start();
  return controller;
}

/** One request with a Host header (fetch cannot set one); status 0 when nothing answers. */
function get(port: number, host: string, path = "/"): Promise<{ status: number; backend: string }> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false, headers: { host }, timeout: 5000 }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, backend: String(res.headers["x-backend"] ?? "") }));
      res.on("error", () => resolve({ status: 0, backend: "" }));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve({ status: 0, backend: "" }));
    req.end();
  });
}

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
  await waitFor(async () => (await get(port, "app.example.com")).backend === "blue", 20_000, 100);
  t.is((await get(port, "other.example.com")).status, 404);

  // Edit: the route now goes to green.
  const changed = Date.now();
  await kubectl(server.kubeconfigPath, ["apply", "-f", "-"], httpRouteYaml(ns, "app", "edge", "app.example.com", [{ service: "green" }]));
  await waitFor(async () => (await get(port, "app.example.com")).backend === "green", 20_000, 20);
  t.log(`route change to traffic: ${Date.now() - changed} ms`);

  // Delete: the route is gone.
  await kubectl(server.kubeconfigPath, ["delete", "httproute", "app", "-n", ns]);
  await waitFor(async () => (await get(port, "app.example.com")).status === 404, 20_000, 50);
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
  await waitFor(async () => (await get(oursPort, "a.example.com")).status === 200, 20_000, 100);
  t.is((await get(theirsPort, "a.example.com")).status, 0, "nothing listens on the other controller's Gateway port");
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
