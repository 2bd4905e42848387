// Two `meshgate controller` processes, as two replicas of a Deployment would run them, with a
// ServiceAccount holding exactly the RBAC meshgate documents: one serves traffic (--serve), both
// watch; the Lease holder writes status. What a kubectl user sees is printed: `kubectl get
// gateway,httproute -A` and the Gateway's status. Then the leader is SIGKILLed: the other replica
// takes the Lease and writes the status of a route created after the kill.
import test from "ava";
import { controllerRules, leaseRole } from "../../controller/provider/kubernetes/rbac.js";
import { startBackend } from "../support/backend.js";
import { type RunningGateway, startMeshgateCommand } from "../support/meshgate.js";
import { freePort, waitFor } from "../support/net.js";
import { grantInNamespace, type Rule, serviceAccountKubeconfig } from "../kube/credentials.js";
import { endpointAddress } from "../kube/endpoint-address.js";
import { httpGet } from "../kube/harness.js";
import { gatewayClassYaml, gatewayYaml, httpRouteYaml, serviceYaml } from "../kube/objects.js";
import { kubectl } from "../kube/server.js";
import { sharedKubeApiServer, stopSharedKubeApiServer, testNamespace } from "../kube/shared.js";

const FIRST_USE_MS = 95 * 60_000;

test.after.always(stopSharedKubeApiServer);

interface Lease {
  spec?: { holderIdentity?: string };
}

test("two controller replicas: traffic, status as kubectl shows it, and a SIGKILLed leader replaced", async (t) => {
  t.timeout(FIRST_USE_MS);
  const server = await sharedKubeApiServer();
  const ns = await testNamespace(t, server, "e2e");
  const backend = await startBackend("app", true, await endpointAddress());
  t.teardown(() => backend.close());
  const port = await freePort();
  const controllerName = `meshgate.io/${ns}`;
  t.teardown(() => kubectl(server.kubeconfigPath, ["delete", "gatewayclass", ns, "--ignore-not-found"]).then(() => undefined));
  const kubeconfig = await serviceAccountKubeconfig(server, ns, "meshgate", controllerRules() as Rule[]);
  await grantInNamespace(server, ns, "meshgate", (leaseRole("meshgate", ns)["rules"] as Rule[]));

  await kubectl(
    server.kubeconfigPath,
    ["apply", "-f", "-"],
    [
      gatewayClassYaml(ns, controllerName),
      gatewayYaml(ns, "edge", ns, port),
      serviceYaml(ns, "app", backend.port),
      httpRouteYaml(ns, "app", "edge", "app.example.com", [{ service: "app" }]),
      httpRouteYaml(ns, "broken", "edge", "broken.example.com", [{ service: "missing" }]),
      // The Gateway's Service, as provisioning will create it; its load balancer's address is the Gateway's.
      `apiVersion: v1
kind: Service
metadata: {name: edge-gateway, namespace: ${ns}, labels: {gateway.networking.k8s.io/gateway-name: edge}}
spec: {type: LoadBalancer, ports: [{name: http, port: 80, targetPort: ${port}}]}
`,
    ].join("---\n"),
  );
  await kubectl(server.kubeconfigPath, [
    "patch", "service", "edge-gateway", "-n", ns, "--subresource=status", "--type=merge",
    "-p", JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: "203.0.113.10" }] } } }),
  ]);

  const replica = (serve: boolean): Promise<RunningGateway> =>
    startMeshgateCommand(
      "controller",
      [
        "--kubeconfig", kubeconfig,
        "--controller-name", controllerName,
        "--leader-election-namespace", ns,
        "--log-level", "warn",
        ...(serve ? ["--serve", "--workers", "1", "--access-log", "off"] : []),
      ],
      {},
      60_000,
    );
  const replicas = [await replica(true), await replica(false)];
  t.teardown(() => Promise.all(replicas.map((r) => r.stop())).then(() => undefined));

  await waitFor(async () => (await httpGet(port, "app.example.com")).status === 200, 30_000, 50);
  t.is((await httpGet(port, "broken.example.com")).status, 500);

  const jsonpath = (kind: string, name: string, path: string) => kubectl(server.kubeconfigPath, ["get", kind, name, "-n", ns, "-o", `jsonpath=${path}`]);
  await waitFor(async () => (await jsonpath("gateway", "edge", "{.status.addresses[0].value}")) === "203.0.113.10", 30_000, 100);
  await waitFor(async () => (await jsonpath("httproute", "broken", "{.status.parents[0].conditions[?(@.type=='ResolvedRefs')].reason}")) === "BackendNotFound", 30_000, 100);

  const all = await kubectl(server.kubeconfigPath, ["get", "gateway,httproute", "-A"]);
  t.log(`kubectl get gateway,httproute -A:\n${all}`);
  t.regex(all, new RegExp(`${ns}\\s+gateway\\.gateway\\.networking\\.k8s\\.io/edge\\s+${ns}\\s+203\\.0\\.113\\.10\\s+True`));
  const yaml = await kubectl(server.kubeconfigPath, ["get", "gateway", "edge", "-n", ns, "-o", "yaml"]);
  t.log(`kubectl get gateway edge -o yaml (status):\n${yaml.slice(yaml.indexOf("status:"))}`);
  t.regex(yaml, /type: Programmed/);
  t.is(await jsonpath("gateway", "edge", "{.status.listeners[0].attachedRoutes}"), "2");
  t.is(await jsonpath("httproute", "app", "{.status.parents[0].controllerName}"), controllerName);
  t.is(await kubectl(server.kubeconfigPath, ["get", "gatewayclass", ns, "-o", "jsonpath={.status.conditions[?(@.type=='Accepted')].status}"]), "True");

  // The leader by its Lease: identity = host_pid_suffix.
  const holder = async () =>
    ((JSON.parse(await kubectl(server.kubeconfigPath, ["get", "lease", "meshgate-controller", "-n", ns, "-o", "json"])) as Lease).spec?.holderIdentity ?? "");
  const leaderIdentity = await holder();
  const leaderPid = Number(/_(\d+)_[0-9a-f]+$/.exec(leaderIdentity)?.[1]);
  const leader = replicas.find((r) => r.proc.pid === leaderPid);
  t.truthy(leader, `leader ${leaderIdentity} is one of the replicas`);
  leader?.proc.kill("SIGKILL");
  const killed = Date.now();
  await kubectl(server.kubeconfigPath, ["apply", "-f", "-"], httpRouteYaml(ns, "after", "edge", "after.example.com", [{ service: "app" }]));
  let newHolder = leaderIdentity;
  await waitFor(async () => (newHolder = await holder()) !== leaderIdentity, 30_000, 100);
  const handover = Date.now() - killed;
  await waitFor(async () => (await jsonpath("httproute", "after", "{.status.parents[0].conditions[?(@.type=='Accepted')].status}")) === "True", 30_000, 100);
  const written = Date.now() - killed;
  t.log(`leader ${leaderIdentity} SIGKILLed: ${newHolder} held the Lease ${handover} ms later and had written the status of a route created after the kill ${written} ms after the kill`);
  t.true(handover < 15_000, `Lease taken over ${handover} ms after the kill`);
});
