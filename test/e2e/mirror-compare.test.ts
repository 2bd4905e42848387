// Shadow comparison in the real `meshgate standalone` process, from one folder of YAML: an
// HTTPRoute mirrors to a second backend, a MirrorComparisonPolicy opts it in, and the mismatches
// show in /metrics and as JSON lines on stdout (with two worker threads, each logging its own).
import { setTimeout as sleep } from "node:timers/promises";
import test from "ava";
import { startBackend } from "../support/backend.js";
import { basicConfig, configFolder, loopbackService, startMeshgate } from "../support/meshgate.js";
import { freePort } from "../support/net.js";

test("a route opted in compares its mirror: mismatches counted per route and logged without bodies", async (t) => {
  const [primary, shadow] = await Promise.all([startBackend("primary"), startBackend("shadow")]);
  primary.behave((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"version":"v1"}');
  });
  // The candidate answers right on /same and differently on /changed.
  shadow.behave((req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(req.url?.startsWith("/same") ? '{"version":"v1"}' : '{"version":"v2"}');
  });
  const port = await freePort();
  const folder = configFolder();
  const route = basicConfig(port, [primary.port]).replace(
    "    backendRefs: [{name: backend, port: 80}]",
    "    backendRefs: [{name: backend, port: 80}]\n    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: candidate, port: 80}}}]",
  );
  folder.write(
    "gateway.yaml",
    `${route}${loopbackService("candidate", 80, "http", shadow.port)}---
apiVersion: meshgate.io/v1alpha1
kind: MirrorComparisonPolicy
metadata: {name: compare, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: app}]
  headers: [content-type]
  logPerMinute: 3
`,
  );
  const gw = await startMeshgate(folder.dir, ["--workers", "2", "--access-log", "off"]);
  try {
    for (let i = 0; i < 4; i++) t.is((await fetch(`http://127.0.0.1:${port}/same/${i}`)).status, 200);
    for (let i = 0; i < 10; i++) t.is((await fetch(`http://127.0.0.1:${port}/changed/${i}?key=secret`)).status, 200);
    const deadline = Date.now() + 5000;
    let series: string[] = [];
    while (Date.now() < deadline) {
      series = (await gw.admin("/metrics")).text.split("\n").filter((l) => l.startsWith("meshgate_mirror_comparisons_total{"));
      if (series.join("\n").includes('result="mismatch"} 10')) break;
      await sleep(50);
    }
    t.log(series.join("\n"));
    t.deepEqual(series.sort(), [
      'meshgate_mirror_comparisons_total{route="default/app",result="match"} 4',
      'meshgate_mirror_comparisons_total{route="default/app",result="mismatch"} 10',
    ]);
    const logged = gw
      .output()
      .split("\n")
      .filter((l) => l.includes('"mirror-mismatch"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    // At most three a minute per route in each of the two workers.
    t.true(logged.length >= 1 && logged.length <= 6, `${logged.length} lines`);
    t.like(logged[0], { route: "default/app", policy: "default/compare", method: "GET", differences: ["body"] });
    t.regex(String(logged[0]?.["path"]), /^\/changed\/\d$/);
    t.false(gw.output().includes("secret") || gw.output().includes('"v2"'));
  } finally {
    await gw.stop();
    await Promise.all([primary.close(), shadow.close()]);
  }
});
