// README shows the controller's ClusterRole; it must be the one the code derives from the kinds
// it watches and writes, or operators grant too little (a kind silently unwatched) or too much.
import test from "ava";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { controllerClusterRoleYaml, controllerRules } from "../../controller/provider/kubernetes/rbac.js";
import { WATCHED_KINDS } from "../../controller/provider/kubernetes/kinds.js";

const README = fileURLToPath(new URL("../../../README.md", import.meta.url));

test("README's ClusterRole block is the one controller/provider/kubernetes/rbac.ts derives", (t) => {
  const readme = readFileSync(README, "utf8");
  const marker = '<!-- rbac: controllerClusterRoleYaml("meshgate-controller") -->\n```yaml\n';
  const start = readme.indexOf(marker);
  t.true(start >= 0, "the marked block is in README");
  const body = readme.slice(start + marker.length, readme.indexOf("```", start + marker.length));
  t.is(body, controllerClusterRoleYaml("meshgate-controller"));
});

test("every watched kind can be listed and watched; status only where it is written; no write verbs on objects", (t) => {
  const rules = controllerRules();
  for (const k of WATCHED_KINDS) {
    const group = k.apiVersion.includes("/") ? k.apiVersion.slice(0, k.apiVersion.indexOf("/")) : "";
    const grants = (resource: string, verb: string) =>
      rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb) && r.resourceNames === undefined);
    t.true(grants(k.plural, "list") && grants(k.plural, "watch"), k.kind);
    t.is(grants(`${k.plural}/status`, "patch"), k.hasStatus, `${k.kind} status`);
  }
  const writes = rules.filter((r) => r.resources.some((x) => !x.endsWith("/status")) && r.verbs.some((v) => ["create", "update", "patch", "delete"].includes(v)));
  t.deepEqual(writes, []);
});
