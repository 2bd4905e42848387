// `meshgate validate` on folders a user writes: every mistake at once with its file, object and
// field, exit 1; a clean folder exits 0 with a summary; --json has a stable shape for CI.
import test from "ava";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GATEWAY_CLASS } from "../support/controller-yaml.js";
import { runCli } from "../support/cli.js";
import { basicConfig } from "../support/meshgate.js";

function folder(t: { teardown(fn: () => void): void }, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "mg-validate-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const GATEWAY = `${GATEWAY_CLASS}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  gatewayClassName: meshgate
  listeners:
  - {name: http, protocol: HTTP, port: 18080}
  - name: https
    protocol: HTTPS
    port: 18443
    hostname: shop.example.com
    tls: {mode: Terminate, certificateRefs: [{name: shop-cert}]}
`;

const ROUTES = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: http}]
  rules:
  - matches: [{path: {type: RegularExpression, value: "/items/(["}}]
    backendRefs: [{name: gone, port: 80}]
  - filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: Thing, name: x}}]
    backendRefs: [{name: missing, port: 80}]
`;

const BROKEN_YAML = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: other, namespace: default
spec: [
`;

const POLICY = `apiVersion: meshgate.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: slow, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: app}]
  timeoutt: {http: {requestTimeout: 5s}}
`;

const MISTAKES = { "10-gateway.yaml": GATEWAY, "20-routes.yaml": ROUTES, "30-broken.yaml": BROKEN_YAML, "40-policy.yaml": POLICY };

interface Problem {
  file?: string;
  kind: string;
  namespace?: string;
  name: string;
  field?: string;
  reason: string;
  message: string;
}

test("validate prints every mistake in a folder at once, with file, object and field, and exits 1", async (t) => {
  const dir = folder(t, MISTAKES);
  const run = await runCli(["validate", "--config", dir]);
  t.log(`\n$ meshgate validate --config DIR\n${run.stdout.replaceAll(dir, "DIR")}`);
  t.is(run.code, 1);
  t.is(run.stderr, "");
  const lines = run.stdout.trimEnd().split("\n");
  t.deepEqual(lines, [
    "30-broken.yaml: Document 0 line 4, column 1: InvalidYAML: Flow map in block collection must be sufficiently indented and end with a }",
    "10-gateway.yaml: Gateway default/edge spec.listeners[https]: InvalidCertificateRef: Secret default/shop-cert: not found",
    "20-routes.yaml: HTTPRoute default/app rule 0 match 0: UnsupportedValue: path is not a valid regular expression: /items/([: missing closing ]: `[`",
    "20-routes.yaml: HTTPRoute default/app rule 1: UnsupportedValue: filter ExtensionRef is not supported",
    // Every backendRef that does not resolve, not only the first.
    "20-routes.yaml: HTTPRoute default/app: BackendNotFound: Service default/gone not found; Service default/missing not found",
    '40-policy.yaml: BackendTrafficPolicy default/slow spec: Invalid: Unrecognized key: "timeoutt"',
    `${dir}: 6 problems (4 objects, 1 route, 2 listeners)`,
  ]);
});

test("validate --json: {ok, problems: [{file, kind, namespace, name, field, reason, message}], summary}", async (t) => {
  const dir = folder(t, MISTAKES);
  const run = await runCli(["validate", "--config", dir, "--json"]);
  t.is(run.code, 1);
  const body = JSON.parse(run.stdout) as { ok: boolean; problems: Problem[]; summary: unknown };
  t.deepEqual(Object.keys(body), ["ok", "problems", "summary"]);
  t.false(body.ok);
  t.deepEqual(body.summary, { objects: 4, routes: 1, listeners: 2 });
  t.deepEqual(body.problems[0], {
    file: "30-broken.yaml",
    kind: "Document",
    name: "0",
    field: "line 4, column 1",
    reason: "InvalidYAML",
    message: "Flow map in block collection must be sufficiently indented and end with a }",
  });
  t.deepEqual(body.problems[1], {
    file: "10-gateway.yaml",
    kind: "Gateway",
    namespace: "default",
    name: "edge",
    field: "spec.listeners[https]",
    reason: "InvalidCertificateRef",
    message: "Secret default/shop-cert: not found",
  });
  t.deepEqual(body.problems.map((p) => [p.kind, p.field ?? null, p.reason]), [
    ["Document", "line 4, column 1", "InvalidYAML"],
    ["Gateway", "spec.listeners[https]", "InvalidCertificateRef"],
    ["HTTPRoute", "rule 0 match 0", "UnsupportedValue"],
    ["HTTPRoute", "rule 1", "UnsupportedValue"],
    ["HTTPRoute", null, "BackendNotFound"],
    ["BackendTrafficPolicy", "spec", "Invalid"],
  ]);
});

test("a schema error names each field it found, and a route refused by its parent still names its rules' problems", async (t) => {
  const dir = folder(t, {
    "gateway.yaml": GATEWAY.replace("port: 18080}", "port: 70000}").replace("hostname: shop.example.com", "hostname: Shop_Example"),
    "route.yaml": ROUTES.replace("sectionName: http", "sectionName: nowhere"),
  });
  const run = await runCli(["validate", "--config", dir, "--json"]);
  t.is(run.code, 1);
  const problems = (JSON.parse(run.stdout) as { problems: Problem[] }).problems;
  t.log(problems.map((p) => `${p.kind} ${p.field}: ${p.reason}: ${p.message}`).join("\n"));
  const gateway = problems.filter((p) => p.kind === "Gateway");
  t.true(gateway.length >= 2, "one problem per field");
  t.true(gateway.every((p) => p.file === "gateway.yaml" && p.reason === "Invalid"));
  t.true(gateway.some((p) => p.field === "spec.listeners.0.port"));
  t.true(gateway.some((p) => p.field === "spec.listeners.1.hostname"));
  const route = problems.filter((p) => p.kind === "HTTPRoute");
  t.like(route.find((p) => p.reason === "NoMatchingParent"), { field: "spec.parentRefs[default/edge/nowhere]" });
  t.like(route.find((p) => p.field === "rule 0 match 0"), { reason: "UnsupportedValue" });
  t.like(route.find((p) => p.field === "rule 1"), { reason: "UnsupportedValue" });
});

test("validate on a clean folder exits 0 with one summary line", async (t) => {
  const dir = folder(t, { "gateway.yaml": basicConfig(18080, [9]) });
  const run = await runCli(["validate", "--config", dir]);
  t.is(run.code, 0, run.stdout);
  t.is(run.stdout, `${dir}: ok: 5 objects, 1 route, 1 listener\n`);
  const json = await runCli(["validate", "--config", dir, "--json"]);
  t.is(json.code, 0);
  t.deepEqual(JSON.parse(json.stdout), { ok: true, problems: [], summary: { objects: 5, routes: 1, listeners: 1 } });
});

test("validate: a missing folder exits 2 naming it, an empty one is a problem", async (t) => {
  const missing = await runCli(["validate", "--config", "/nonexistent/meshgate-config"]);
  t.is(missing.code, 2);
  t.is(missing.stderr, "meshgate: config folder /nonexistent/meshgate-config does not exist\n");
  const dir = folder(t, { "notes.yaml": "# nothing here yet\n" });
  const empty = await runCli(["validate", "--config", dir]);
  t.is(empty.code, 1);
  t.regex(empty.stdout, new RegExp(`Folder ${dir}: Empty: no Gateway API objects in ${dir}`));
});
