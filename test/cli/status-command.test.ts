// `meshgate status` as a user runs it on a folder: each parentRef's outcome with the reason the
// Gateway API names, and listeners' attachedRoutes counting only the routes that attach.
import test from "ava";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../support/cli.js";

const CONFIG = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  gatewayClassName: meshgate
  listeners:
  - {name: web, protocol: HTTP, port: 8080, hostname: "*.example.com"}
  - {name: api, protocol: HTTP, port: 8081}
  - {name: ops, protocol: HTTP, port: 8082, allowedRoutes: {kinds: [{kind: TLSRoute}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: nosection, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: websocket}]
  rules: [{backendRefs: []}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: noport, namespace: default}
spec:
  parentRefs: [{name: edge, port: 9999}]
  rules: [{backendRefs: []}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: nogateway, namespace: default}
spec:
  parentRefs: [{name: elsewhere}]
  rules: [{backendRefs: []}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: wronghost, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: web}]
  hostnames: [blog.example.org]
  rules: [{backendRefs: []}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: wrongkind, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: ops}]
  rules: [{backendRefs: []}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: web}]
  hostnames: [shop.example.com]
  rules: [{backendRefs: []}]
`;

test("meshgate status: parentRefs that match no listener, kind or hostname are refused with the spec's reasons", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "mg-status-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "gateway.yaml"), CONFIG);
  const { code, stdout } = await runCli(["status", "--config", dir, "--no-live"]);
  t.is(code, 1, "routes are refused: exit 1");
  t.log(`\n${stdout}`);
  const line = (start: string) => stdout.split("\n").find((l) => l.startsWith(start)) ?? "";
  const routeLine = (name: string) => line(`default/${name} `);
  t.regex(routeLine("nosection"), /default\/edge\/websocket\s+False\s+\S+\s+NoMatchingParent: Gateway default\/edge has no listener named websocket/);
  t.regex(routeLine("noport"), /default\/edge:9999\s+False\s+\S+\s+NoMatchingParent: Gateway default\/edge has no listener on port 9999/);
  t.regex(routeLine("nogateway"), /False\s+\S+\s+NoMatchingParent: Gateway default\/elsewhere not found/);
  t.regex(routeLine("wronghost"), /False\s+\S+\s+NoMatchingListenerHostname/);
  t.regex(routeLine("wrongkind"), /False\s+\S+\s+NotAllowedByListeners: listener ops does not allow HTTPRoutes/);
  t.regex(routeLine("shop"), /default\/edge\/web\s+True/);
  // Only shop attaches to web; nothing attaches to api or ops.
  t.regex(line("default/edge/web "), /^default\/edge\/web\s+8080\s+HTTP\s+\*\.example\.com\s+1\s+True\s+True/);
  t.regex(line("default/edge/api "), /^default\/edge\/api\s+8081\s+HTTP\s+\*\s+0\s/);
  t.regex(line("default/edge/ops "), /^default\/edge\/ops\s+8082\s+HTTP\s+\*\s+0\s+True\s+True\s+InvalidRouteKinds/);
});
