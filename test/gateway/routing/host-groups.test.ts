// Hostname groups against a reference written from the rule: for a host, the entries naming it
// exactly, then those of each wildcard covering it (longest suffix first), then the any-host
// ones, each group in the given order; the first whose path matches wins. Generated lists are
// long enough for the segment index, and compiled both at once and in slices.
import test from "ava";
import fc from "fast-check";
import { PortRouter } from "../../../gateway/routing/router.js";
import { runSliced } from "../../../gateway/routing/steps.js";
import { portSchema } from "../../../gateway/snapshot.js";
import { fcSeed } from "../../support/fc-seed.js";
import { type EntrySpec, exact, listener, portRouter, prefix, req, routed } from "../../support/routing-port.js";

const HOSTNAMES = ["a.x.test", "b.x.test", "c.y.x.test", "*.x.test", "*.y.x.test", "*.test", "*"];
const HOSTS = ["a.x.test", "b.x.test", "c.y.x.test", "d.y.x.test", "e.x.test", "x.test", "other.example"];
const PATHS = ["/", "/a", "/a/b", "/b", "/a/b/c", "/c/d"];

const entry = fc.record({
  hostnames: fc.subarray(HOSTNAMES, { maxLength: 2 }),
  exactPath: fc.boolean(),
  path: fc.constantFrom(...PATHS),
});

function pathMatches(e: { exactPath: boolean; path: string }, path: string): boolean {
  if (e.exactPath) return path === e.path;
  const p = e.path.replace(/\/+$/, "");
  return p === "" || path === p || path.startsWith(`${p}/`);
}

function reference(entries: { hostnames: string[]; exactPath: boolean; path: string }[], host: string, path: string): string | undefined {
  const has = (e: { hostnames: string[] }, pattern: (h: string) => boolean) => e.hostnames.some(pattern);
  const order: number[] = [];
  entries.forEach((e, i) => {
    if (has(e, (h) => h === host)) order.push(i);
  });
  for (let dot = host.indexOf(".", 1); dot !== -1; dot = host.indexOf(".", dot + 1)) {
    const suffix = host.slice(dot);
    entries.forEach((e, i) => {
      if (has(e, (h) => h === `*${suffix}`)) order.push(i);
    });
  }
  entries.forEach((e, i) => {
    if (e.hostnames.length === 0 || has(e, (h) => h === "*")) order.push(i);
  });
  const hit = order.find((i) => pathMatches(entries[i] as (typeof entries)[number], path));
  return hit === undefined ? undefined : `l#${hit}`;
}

test("every host reaches the first matching entry of its exact, wildcard, then any-host group", async (t) => {
  const seed = fcSeed();
  t.log(`seed=${seed} (replay: FC_SEED=${seed})`);
  await fc.assert(
    fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 40 }), async (entries) => {
      const specs: EntrySpec[] = entries.map((e) => ({
        hostnames: e.hostnames,
        path: e.exactPath ? exact(e.path) : prefix(e.path),
      }));
      const now = portRouter(listener("l", undefined, specs));
      const port = portSchema.parse({ port: 80, protocol: "HTTP", listeners: [listener("l", undefined, specs)] });
      const sliced = await runSliced(PortRouter.build(port), 0);
      for (const host of HOSTS) {
        for (const path of PATHS) {
          const want = reference(entries, host, path);
          t.is(routed(now, req(host, path)), want, `${host} ${path}`);
          t.is(routed(sliced, req(host, path)), want, `sliced: ${host} ${path}`);
        }
      }
    }),
    { seed, numRuns: 300 },
  );
});
