// Filters on a backendRef apply only to the requests that chose that backend: every pair of
// filter kinds on two equally weighted backendRefs, translated from YAML by the controller and
// served by a real data plane to real backends.
import test from "ava";
import { Agent, request } from "undici";
import { DataPlane } from "../../gateway/data-plane.js";
import { startBackend, type TestBackend } from "../support/backend.js";
import { run } from "../support/controller-yaml.js";
import { gatewayAndRoute, loopbackService } from "../support/meshgate.js";
import { freePort } from "../support/net.js";

type Kind = "none" | "headers" | "rewrite" | "redirect";
const KINDS: Kind[] = ["none", "headers", "rewrite", "redirect"];

function filtersOf(kind: Kind, name: string): string {
  switch (kind) {
    case "none":
      return "[]";
    case "headers":
      return `[{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-via, value: ${name}}]}}, {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: x-served, value: ${name}}]}}]`;
    case "rewrite":
      return `[{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /${name}}}}]`;
    case "redirect":
      return `[{type: RequestRedirect, requestRedirect: {hostname: ${name}.example, statusCode: 301}}]`;
  }
}

const client = new Agent({ keepAliveTimeout: 10_000 });
test.after.always(() => client.close());

const REQUESTS = 120;

test("backendRef filters (none, header modifiers, URL rewrite, redirect) act only when their backend is chosen", async (t) => {
  const backends: TestBackend[] = [await startBackend("a"), await startBackend("b")];
  const port = await freePort();
  const plane = new DataPlane();
  t.teardown(async () => {
    await plane.drain(500);
    await Promise.all(backends.map((b) => b.close()));
  });
  let version = 1;
  for (const kindA of KINDS) {
    for (const kindB of KINDS) {
      const rules = `  - matches: [{path: {type: PathPrefix, value: /api}}]
    backendRefs:
    - {name: a, port: 80, filters: ${filtersOf(kindA, "a")}}
    - {name: b, port: 80, filters: ${filtersOf(kindB, "b")}}`;
      const yaml = `${gatewayAndRoute(port, "app", rules)}${backends.map((b) => loopbackService(b.name, 80, "http", b.port)).join("")}`;
      const { snapshot, status } = run(yaml);
      t.is(status.httpRoutes[0]?.parents[0]?.conditions.find((c) => c.type === "Accepted")?.status, "True");
      const applied = await plane.apply({ ...snapshot, version: version++, ports: snapshot.ports.map((p) => ({ ...p, address: "127.0.0.1" })) });
      t.deepEqual(applied.portErrors, []);
      for (const b of backends) b.received.length = 0;

      const answers = { a: 0, b: 0, redirectA: 0, redirectB: 0 };
      for (let i = 0; i < REQUESTS; i++) {
        const res = await request(`http://127.0.0.1:${port}/api/items?n=${i}`, { dispatcher: client });
        const body = await res.body.text();
        const where = `${kindA}/${kindB} request ${i}`;
        if (res.statusCode === 301) {
          const location = String(res.headers["location"]);
          if (location === `http://a.example:${port}/api/items?n=${i}`) answers.redirectA++;
          else if (location === `http://b.example:${port}/api/items?n=${i}`) answers.redirectB++;
          else t.fail(`${where}: unexpected Location ${location}`);
          continue;
        }
        t.is(res.statusCode, 200, where);
        const served = (JSON.parse(body) as { backend: string }).backend as "a" | "b";
        answers[served]++;
        const kind = served === "a" ? kindA : kindB;
        t.is(res.headers["x-served"], kind === "headers" ? served : undefined, where);
      }
      for (const b of backends) {
        const kind = b.name === "a" ? kindA : kindB;
        const name = b.name as "a" | "b";
        // A redirecting backendRef is never reached; the others see exactly their own filters.
        t.is(b.received.length, answers[name], `${kindA}/${kindB}: requests at ${name}`);
        if (kind === "redirect") t.is(b.received.length, 0);
        else t.is(answers[name === "a" ? "redirectA" : "redirectB"], 0);
        for (const r of b.received) {
          t.is(r.headers["x-via"], kind === "headers" ? name : undefined);
          t.regex(r.url, kind === "rewrite" ? new RegExp(`^/${name}/items\\?n=\\d+$`) : /^\/api\/items\?n=\d+$/);
        }
      }
      const total = answers.a + answers.b + answers.redirectA + answers.redirectB;
      t.is(total, REQUESTS);
      // Equal weights: each backendRef's share is Binomial(120, 1/2); below 25 has odds under 1e-10.
      t.true(answers.a + answers.redirectA >= 25 && answers.b + answers.redirectB >= 25, JSON.stringify(answers));
    }
  }
});

test("a backendRef filter meshgate cannot apply there is reported on the route, not dropped", (t) => {
  const rules = `  - backendRefs:
    - {name: a, port: 80, filters: [{type: RequestMirror, requestMirror: {backendRef: {name: b, port: 80}}}]}
    - {name: b, port: 80, filters: [{type: ExtensionRef}]}`;
  const { status } = run(`${gatewayAndRoute(8080, "app", rules)}${loopbackService("a", 80, "http", 1)}${loopbackService("b", 80, "http", 2)}`);
  const accepted = status.httpRoutes[0]?.parents[0]?.conditions.find((c) => c.type === "Accepted");
  t.is(accepted?.status, "False");
  t.is(accepted?.reason, "UnsupportedValue");
  t.regex(accepted?.message ?? "", /backendRef 0: filter RequestMirror is only supported on a rule/);
  t.regex(accepted?.message ?? "", /backendRef 1: filter ExtensionRef is not supported/);
});
