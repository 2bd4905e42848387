// HTTPRoute rule.retry and timeouts from YAML through the real CLI (`meshgate standalone`,
// two worker processes) to a backend that fails on purpose.
import { createHash, randomBytes } from "node:crypto";
import test from "ava";
import { startFailingBackend } from "../support/failing-backend.js";
import { configFolder, gatewayAndRoute, loopbackService, startMeshgate } from "../support/meshgate.js";
import { freePort } from "../support/net.js";

const RULES = `  - matches: [{path: {type: PathPrefix, value: /retry}}]
    retry: {codes: [500], attempts: 2, backoff: 10ms}
    backendRefs: [{name: backend, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /unbounded}}]
    timeouts: {request: 0s}
    backendRefs: [{name: backend, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /plain}}]
    backendRefs: [{name: backend, port: 80}]`;

/** Shrinks the cluster's default bound to 300 ms, to show "0s" on a route lifting it. */
const POLICY = `---
apiVersion: meshgate.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: short, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: app}]
  timeout: {http: {requestTimeout: 300ms}}
`;

test("rule.retry from YAML: listed codes retried attempts times, others not; 0s lifts a 300 ms policy bound; metrics name the rule's retries", async (t) => {
  const backend = await startFailingBackend();
  const port = await freePort();
  const folder = configFolder();
  folder.write("gateway.yaml", `${gatewayAndRoute(port, "app", RULES)}${loopbackService("backend", 80, "http", backend.port)}${POLICY}`);
  const gw = await startMeshgate(folder.dir);
  let n = 0;
  const call = async (path: string, headers: Record<string, string>, init: RequestInit = {}) => {
    const id = `e2e-${++n}`;
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { ...init, headers: { "x-test-id": id, ...headers } });
    await res.text();
    return { status: res.status, attempts: backend.attempts(id), id };
  };
  try {
    const status = JSON.parse((await gw.admin("/status")).text) as unknown;
    t.notRegex(JSON.stringify(status), /UnsupportedValue/);
    const rows: string[] = [];
    const check = async (label: string, path: string, headers: Record<string, string>, want: [number, number]) => {
      const r = await call(path, headers);
      rows.push(`${label}: ${r.status} after ${r.attempts} attempts`);
      t.deepEqual([r.status, r.attempts], want, label);
    };
    await check("retry 500 always", "/retry", { "x-fail": "500" }, [500, 3]);
    await check("retry 500 once", "/retry", { "x-fail": "500", "x-fail-times": "1" }, [200, 2]);
    await check("retry 502 (not listed)", "/retry", { "x-fail": "502", "x-fail-times": "1" }, [502, 1]);
    await check("retry 503 (not listed)", "/retry", { "x-fail": "503", "x-fail-times": "1" }, [503, 1]);
    await check("retry reset once", "/retry", { "x-fail": "reset", "x-fail-times": "1" }, [200, 2]);
    await check("plain 503 once (cluster default)", "/plain", { "x-fail": "503", "x-fail-times": "1" }, [200, 2]);
    await check("plain 500", "/plain", { "x-fail": "500", "x-fail-times": "1" }, [500, 1]);
    await check("plain slow 700 ms (300 ms bound)", "/plain", { "x-fail": "slow", "x-slow-ms": "700" }, [504, 1]);
    await check("unbounded slow 700 ms (0s)", "/unbounded", { "x-fail": "slow", "x-slow-ms": "700" }, [200, 1]);
    const body = randomBytes(5000);
    const post = await call("/retry", { "x-fail": "500", "x-fail-times": "2" }, { method: "POST", body });
    const digest = createHash("sha256").update(body).digest("hex");
    t.is(post.status, 200);
    t.deepEqual(backend.bodies(post.id).map((b) => b.sha), [digest, digest, digest]);
    rows.push(`POST 5000 bytes, 500 twice: ${post.status} after ${post.attempts} attempts, bodies identical`);
    console.log(`e2e retry codes=[500] attempts=2 backoff=10ms: ${rows.join("; ")}`);
    const metrics = (await gw.admin("/metrics")).text;
    const line = metrics.split("\n").find((l) => l.startsWith("meshgate_upstream_retries_total{") && l.includes('policy="rule"') && l.includes('cause="500"'));
    t.log(line ?? "no rule retry series");
    // 2 + 1 retries of the GETs, 2 of the POST.
    t.regex(line ?? "", /route="default\/app".*\} 5$/);
  } finally {
    t.is(await gw.stop(), 0);
    await backend.close();
  }
});
