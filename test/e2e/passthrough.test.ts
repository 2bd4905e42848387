// `meshgate standalone` with a Gateway listener of protocol TLS (tls.mode Passthrough) and
// TLSRoutes, checked as an operator would: openssl s_client and node:tls reach the backend the
// SNI name routes to and see that backend's own certificate (nothing is terminated at the edge);
// the TLSRoutes' status and the passthrough metrics say what happened.
import test from "ava";
import { opensslProbe, startTlsBackend, tlsProbe } from "../gateway/passthrough/harness.js";
import { configFolder, loopbackService, startMeshgate } from "../support/meshgate.js";
import { freePort, waitFor } from "../support/net.js";
import { makeCa } from "../support/tls-certs.js";

function tlsRoute(name: string, hostnames: string[], backend: string): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: ${name}, namespace: default}
spec:
  parentRefs: [{name: edge}]
  hostnames: [${hostnames.join(", ")}]
  rules: [{backendRefs: [{name: ${backend}, port: 443}]}]
`;
}

test("TLSRoutes pipe by SNI to backends that present their own certificates", async (t) => {
  const ca = await makeCa();
  const db = await startTlsBackend(ca, "db", ["db.example.com"]);
  const wild = await startTlsBackend(ca, "wild", ["*.apps.example.com"]);
  const port = await freePort();
  const folder = configFolder();
  folder.write(
    "edge.yaml",
    `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  gatewayClassName: meshgate
  listeners:
  - {name: tls, protocol: TLS, port: ${port}, tls: {mode: Passthrough}}
${tlsRoute("db", ["db.example.com"], "db")}${tlsRoute("apps", ['"*.apps.example.com"'], "apps")}${loopbackService("db", 443, "tls", db.port)}${loopbackService("apps", 443, "tls", wild.port)}`,
  );
  const gw = await startMeshgate(folder.dir);
  try {
    const viaOpenssl = await opensslProbe(port, "db.example.com", ca);
    t.log(viaOpenssl.output.split("\n").filter((l) => /subject=|issuer=|Verify return/.test(l)).join("\n"));
    t.is(viaOpenssl.serial, db.serial, "openssl sees the db backend's certificate");
    t.true(viaOpenssl.verified);
    const apps = await tlsProbe(port, "shop.apps.example.com", ca);
    t.true(apps.ok && apps.serial === wild.serial && apps.banner === "wild", JSON.stringify(apps));
    const unknown = await tlsProbe(port, "other.example.com", ca);
    t.false(unknown.ok, "no route: the connection is closed");

    const status = JSON.parse((await gw.admin("/status")).text);
    const accepted = status.tlsRoutes.map(
      (r: { name: string; parents: { conditions: { type: string; status: string }[] }[] }) =>
        `${r.name}:${r.parents[0]?.conditions.find((c) => c.type === "Accepted")?.status}`,
    );
    t.deepEqual(accepted, ["apps:True", "db:True"]);
    await waitFor(async () => /meshgate_tls_route_connections_total\{route="default\/db",mode="Passthrough"\} 1/.test((await gw.admin("/metrics")).text), 3000);
    const metrics = (await gw.admin("/metrics")).text;
    t.regex(metrics, /meshgate_tls_route_connections_total\{route="default\/apps",mode="Passthrough"\} 1/);
    t.regex(metrics, new RegExp(`meshgate_tcp_front_errors_total\\{port="${port}",kind="no-route"\\} 1`));
    t.regex(metrics, /meshgate_tls_route_bytes_total\{route="default\/db",mode="Passthrough",direction="upstream"\} [1-9]/);
  } finally {
    t.is(await gw.stop(), 0);
    await db.close();
    await wild.close();
  }
});
