// The Reconciler on its own thread gives what the in-process one gives, carries the version and
// the last good certificates across loads (each load has a new thread), and a load that fails
// leaves the next one working.
import { cpSync, mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { Reconciler } from "../../controller/reconcile.js";
import { ThreadedReconciler } from "../../controller/reconcile-thread.js";
import { GATEWAY_CLASS, gateway, tlsSecret } from "../support/controller-yaml.js";
import { makeCa } from "../support/tls-certs.js";

const EXAMPLE = fileURLToPath(new URL("../../../examples/basic", import.meta.url));

function copyOfExample(): string {
  const dir = mkdtempSync(join(tmpdir(), "meshgate-reconcile-thread-"));
  cpSync(EXAMPLE, dir, { recursive: true });
  return dir;
}

test("the threaded load equals the in-process one, versions count up, load errors reach the status", async (t) => {
  const dir = copyOfExample();
  const threaded = new ThreadedReconciler(dir);
  const inline = new Reconciler(dir);
  const a = await threaded.load();
  const b = await inline.load();
  t.deepEqual(a.validation, b.validation);
  t.deepEqual(a.translation.status, b.translation.status);
  t.deepEqual(a.translation.acmeRequests, b.translation.acmeRequests);
  t.is(a.translation.snapshot.version, 1);
  writeFileSync(join(dir, "broken.yaml"), "kind: [\n");
  const second = await threaded.load();
  t.is(second.translation.snapshot.version, 2);
  t.true(second.validation.ok);
  t.deepEqual(
    second.translation.status.loadErrors.map((e) => e.file),
    ["broken.yaml"],
  );
});

test("a refused Snapshot comes back with the translation's own Snapshot and the reasons", async (t) => {
  const dir = copyOfExample();
  // The translator passes header names through; validation refuses one that is no token.
  writeFileSync(
    join(dir, "bad.yaml"),
    `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bad, namespace: default}
spec:
  parentRefs: [{name: edge}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /bad}}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: "bad name", value: "x"}]}}]
    backendRefs: [{name: demo, port: 80}]
`,
  );
  const threaded = await new ThreadedReconciler(dir).load();
  const inline = await new Reconciler(dir).load();
  t.false(threaded.validation.ok);
  t.regex(JSON.stringify(threaded.validation), /must be an HTTP header name/);
  t.deepEqual(threaded.validation, inline.validation);
  t.deepEqual(threaded.translation.snapshot, inline.translation.snapshot);
  t.deepEqual(threaded.translation.status.refused, inline.translation.status.refused);
});

test("a folder that cannot be listed fails that load; the next load, on a new thread, works", async (t) => {
  const parent = mkdtempSync(join(tmpdir(), "meshgate-reconcile-thread-"));
  const dir = join(parent, "config");
  const reconciler = new ThreadedReconciler(dir);
  await t.throwsAsync(reconciler.load(), { message: /ENOENT/ });
  cpSync(EXAMPLE, dir, { recursive: true });
  const { validation, translation } = await reconciler.load();
  t.true(validation.ok);
  t.is(translation.snapshot.version, 2);
});

test("a Secret that turns bad keeps its last good certificate across threads", async (t) => {
  const ca = await makeCa();
  const good = await ca.issue(["a.example.com"]);
  const other = await ca.issue(["b.example.com"]);
  const dir = mkdtempSync(join(tmpdir(), "meshgate-reconcile-thread-"));
  const write = (secret: string) => {
    writeFileSync(join(dir, ".tmp"), `${GATEWAY_CLASS}${gateway("edge", "\n  - {name: a, protocol: HTTPS, port: 8443, hostname: a.example.com, tls: {certificateRefs: [{name: a}]}}")}${secret}`);
    renameSync(join(dir, ".tmp"), join(dir, "edge.yaml"));
  };
  const reconciler = new ThreadedReconciler(dir);
  write(tlsSecret("a", good.chainPem, good.keyPem));
  const first = await reconciler.load();
  if (!first.validation.ok) return t.fail(first.validation.errors.join("; "));
  write(tlsSecret("a", good.chainPem, other.keyPem));
  const second = await reconciler.load();
  if (!second.validation.ok) return t.fail(second.validation.errors.join("; "));
  const cert = second.validation.snapshot.ports[0]?.tls?.certificates.find((c) => c.name === "default/a");
  t.is(cert?.certPem, good.chainPem);
  t.is(cert?.keyPem, good.keyPem);
});
