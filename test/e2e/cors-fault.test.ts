// The CORS filter and fault injection in a real `meshgate standalone` (two worker processes) from a
// YAML folder: a preflight answered by the gateway, an actual response with the origin's headers,
// a BackendTrafficPolicy that aborts one named rule and leaves the other alone, and the metric
// summed across the workers; refused values show in `meshgate status`.
import test from "ava";
import { startBackend } from "../support/backend.js";
import { filesStatus } from "../support/cli.js";
import { configFolder, gatewayAndRoute, loopbackService, startMeshgate } from "../support/meshgate.js";
import { freePort } from "../support/net.js";


const RULES = `  - name: api
    matches: [{path: {type: PathPrefix, value: /api}}]
    filters:
    - type: CORS
      cors:
        allowOrigins: ["https://*.example.com"]
        allowMethods: [GET, PUT]
        allowHeaders: [x-token]
        exposeHeaders: [x-trace]
        allowCredentials: true
        maxAge: 3600
    backendRefs: [{name: app, port: 80}]
  - name: flaky
    matches: [{path: {type: PathPrefix, value: /flaky}}]
    backendRefs: [{name: app, port: 80}]
`;

const FAULT = `---
apiVersion: meshgate.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: chaos, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: shop, sectionName: flaky}]
  faultInjection:
    abort: {httpStatus: 503}
`;

test("CLI from YAML: CORS preflight and actual response, a fault on one named rule only", async (t) => {
  const backend = await startBackend("app");
  const port = await freePort();
  const folder = configFolder();
  folder.write("gateway.yaml", gatewayAndRoute(port, "shop", RULES) + loopbackService("app", 80, "http", backend.port) + FAULT);
  const gw = await startMeshgate(folder.dir);
  try {
    const url = (path: string) => `http://127.0.0.1:${port}${path}`;
    const preflight = await fetch(url("/api/items"), {
      method: "OPTIONS",
      headers: { origin: "https://shop.example.com", "access-control-request-method": "PUT", "access-control-request-headers": "x-token" },
    });
    t.is(preflight.status, 200);
    t.is(preflight.headers.get("access-control-allow-origin"), "https://shop.example.com");
    t.is(preflight.headers.get("access-control-allow-methods"), "GET, PUT");
    t.is(preflight.headers.get("access-control-allow-headers"), "x-token");
    t.is(preflight.headers.get("access-control-allow-credentials"), "true");
    t.is(preflight.headers.get("access-control-max-age"), "3600");
    t.is(backend.received.length, 0, "the preflight never reached the backend");

    const denied = await fetch(url("/api/items"), {
      method: "OPTIONS",
      headers: { origin: "https://evil-example.com", "access-control-request-method": "PUT" },
    });
    t.is(denied.status, 403);
    t.is(denied.headers.get("access-control-allow-origin"), null);

    const actual = await fetch(url("/api/items"), { method: "PUT", headers: { origin: "https://shop.example.com" } });
    t.is(actual.status, 200);
    t.is(actual.headers.get("access-control-allow-origin"), "https://shop.example.com");
    t.is(actual.headers.get("access-control-expose-headers"), "x-trace");
    t.is(actual.headers.get("vary"), "Origin");
    t.is(backend.received.length, 1);

    // The policy reaches rule "flaky" only: every answer there is the gateway's 503.
    for (let i = 0; i < 10; i++) t.is((await fetch(url("/flaky/x"))).status, 503);
    t.is(backend.received.length, 1);
    t.is((await fetch(url("/api/other"))).status, 200);

    const metrics = await gw.admin("/metrics");
    t.regex(metrics.text, /meshgate_fault_injected_total\{route="default\/shop",kind="abort"\} 10\b/);
    t.regex(metrics.text, /meshgate_cors_preflight_total\{route="default\/shop",result="allowed"\} 1\b/);
    t.regex(metrics.text, /meshgate_cors_preflight_total\{route="default\/shop",result="denied"\} 1\b/);
  } finally {
    t.is(await gw.stop(), 0);
    await backend.close();
  }

  // A value meshgate refuses shows in `meshgate status`, naming it.
  folder.write(
    "gateway.yaml",
    gatewayAndRoute(port, "shop", RULES.replace('"https://*.example.com"', '"https://ex*ample.com"')) +
      loopbackService("app", 80, "http", 9) +
      FAULT.replace("httpStatus: 503", "httpStatus: 700"),
  );
  const stdout = await filesStatus(folder.dir, ["--json"]);
  const status = JSON.parse(stdout) as {
    httpRoutes: { name: string; parents: { conditions: { type: string; status: string; reason: string; message: string }[] }[] }[];
    policies: { name: string; conditions: { status: string; reason: string; message: string }[] }[];
  };
  const accepted = status.httpRoutes.find((r) => r.name === "shop")?.parents[0]?.conditions.find((c) => c.type === "Accepted");
  t.is(accepted?.reason, "UnsupportedValue");
  t.regex(accepted?.message ?? "", /filter CORS: allowOrigins "https:\/\/ex\*ample.com"/);
  const policy = status.policies.find((p) => p.name === "chaos")?.conditions[0];
  t.is(policy?.reason, "Invalid");
  t.regex(policy?.message ?? "", /spec\.faultInjection\.abort\.httpStatus/);
});
