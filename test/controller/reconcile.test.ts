// The whole control-plane path on the example folder and on a temporary one.
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { Reconciler } from "../../controller/reconcile.js";
import { translate } from "../../controller/translate/index.js";
import { endpointSlice, fromYaml, gateway, httpRoute, service } from "../support/controller-yaml.js";

const EXAMPLE = fileURLToPath(new URL("../../../examples/basic", import.meta.url));

test("the quickstart example loads, translates and validates: / and /api to the demo backend on 127.0.0.1:9080", async (t) => {
  const { translation, validation } = await new Reconciler(EXAMPLE).load();
  t.deepEqual(translation.status.loadErrors, []);
  if (!validation.ok) return t.fail(validation.errors.join("; "));
  const s = validation.snapshot;
  t.is(s.version, 1);
  t.deepEqual(
    s.ports.map((p) => p.port),
    [8080],
  );
  t.deepEqual(
    s.clusters.map((c) => [c.name, c.endpoints.map((e) => `${e.address}:${e.port}`)]),
    [["default/demo:80", ["127.0.0.1:9080"]]],
  );
  const l = s.ports[0]?.listeners[0];
  const byPath = Object.fromEntries(l?.entries.map((e) => [e.match.path.value, l.actions[e.action]]) ?? []);
  t.deepEqual(Object.keys(byPath), ["/old", "/api", "/"]);
  t.is(byPath["/"]?.backends[0]?.cluster, "default/demo:80");
  t.is(byPath["/api"]?.filters[0]?.type, "RequestHeaderModifier");
  t.is(byPath["/api"]?.backends[0]?.cluster, "default/demo:80");
  t.is(byPath["/old"]?.filters[0]?.type, "RequestRedirect");
  const route = translation.status.httpRoutes[0]?.parents[0]?.conditions.map((c) => `${c.type}=${c.status}`);
  t.deepEqual(route, ["Accepted=True", "ResolvedRefs=True"]);
});

test("each load gets the next version; load errors reach the status report", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "meshgate-reconcile-"));
  cpSync(EXAMPLE, dir, { recursive: true });
  const reconciler = new Reconciler(dir);
  t.is((await reconciler.load()).translation.snapshot.version, 1);
  writeFileSync(join(dir, "broken.yaml"), "kind: [\n");
  const second = await reconciler.load();
  t.is(second.translation.snapshot.version, 2);
  t.deepEqual(
    second.translation.status.loadErrors.map((e) => e.file),
    ["broken.yaml"],
  );
  t.true(second.validation.ok);
  t.is(second.translation.status.refused, undefined);
});

test("translation is deterministic: the order resources are read in does not matter", (t) => {
  const { resources } =
    fromYaml(`${gateway("gw", "[{name: a, protocol: HTTP, port: 8080}, {name: b, protocol: HTTP, port: 8080, hostname: b.example}]")}
${httpRoute("r1", "parentRefs: [{name: gw}]\nrules: [{backendRefs: [{name: s, port: 80}]}]")}
${httpRoute("r2", "parentRefs: [{name: gw}]\nrules: [{matches: [{path: {value: /x}}], backendRefs: [{name: s, port: 80}, {name: t, port: 80}]}]")}
${service("s", "[{port: 80}]")}${service("t", "[{port: 80}]")}
${endpointSlice("s-1", "s", "[{port: 1}]", "[{addresses: [10.0.0.1]}]")}${endpointSlice("s-2", "s", "[{port: 1}]", "[{addresses: [10.0.0.2]}]")}
${endpointSlice("t-1", "t", "[{port: 2}]", "[{addresses: [10.0.0.3]}]")}`);
  const expected = translate(resources, { version: 3 });
  t.is(expected.snapshot.clusters?.[0]?.endpoints?.length, 2);
  for (let shift = 1; shift < resources.length; shift++) {
    const rotated = [...resources.slice(shift), ...resources.slice(0, shift)];
    t.deepEqual(translate(rotated, { version: 3 }), expected);
    t.deepEqual(translate([...rotated].reverse(), { version: 3 }), expected);
  }
});
