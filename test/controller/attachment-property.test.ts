// Generated Gateways and routes: each listener's attachedRoutes and each parentRef's Accepted
// reason, against an oracle written from the Gateway API text (not from the translator).
import assert from "node:assert/strict";
import test from "ava";
import fc from "fast-check";
import { fcSeed } from "../support/fc-seed.js";
import { run } from "../support/controller-yaml.js";

const HOSTS = ["a.example", "b.example", "*.example", "x.a.example", "*.a.example", "other.test"] as const;
const NAMESPACES = ["infra", "apps"] as const;

interface ListenerCase {
  name: string;
  port: number;
  hostname: string | undefined;
  from: "All" | "Same";
}
interface RouteCase {
  namespace: (typeof NAMESPACES)[number];
  hostnames: string[];
  sectionName: string | undefined;
  port: number | undefined;
}

/** Gateway API: "*.x" stands for one or more labels in front of x, never x itself. */
function wildcardCovers(wildcard: string, name: string): boolean {
  const base = wildcard.slice(2);
  const bare = name.startsWith("*.") ? name.slice(2) : name;
  return bare !== base && bare.endsWith(`.${base}`);
}
function hostsIntersect(listener: string | undefined, route: string): boolean {
  if (listener === undefined || listener === route) return true;
  return (
    (listener.startsWith("*.") && wildcardCovers(listener, route)) ||
    (route.startsWith("*.") && wildcardCovers(route, listener))
  );
}

const listenerCase = (i: number) =>
  fc.record({
    port: fc.constantFrom(8080, 9090),
    hostname: fc.option(fc.constantFrom(...HOSTS), { nil: undefined }),
    from: fc.constantFrom("All" as const, "Same" as const),
  }).map((l): ListenerCase => ({ name: `l${i}`, ...l }));

const routeCase: fc.Arbitrary<RouteCase> = fc.record({
  namespace: fc.constantFrom(...NAMESPACES),
  hostnames: fc.uniqueArray(fc.constantFrom(...HOSTS), { maxLength: 3 }),
  sectionName: fc.option(fc.constantFrom("l0", "l1", "l2", "missing"), { nil: undefined }),
  port: fc.option(fc.constantFrom(8080, 9090, 7070), { nil: undefined }),
});

test("attachedRoutes counts routes admitted by allowedRoutes that share a hostname; Accepted reasons follow the spec's order", (t) => {
  const seed = fcSeed();
  t.log(`FC_SEED=${seed}`);
  fc.assert(
    fc.property(
      fc.tuple(listenerCase(0), listenerCase(1), listenerCase(2)),
      fc.array(routeCase, { minLength: 1, maxLength: 5 }),
      (listenerCases, routes) => {
        // One hostname per port (a second one would be Conflicted and change what is served).
        const seen = new Set<string>();
        const listeners = listenerCases.filter((l) => {
          const key = `${l.port}|${l.hostname ?? ""}`;
          if (seen.has(key)) return false;
          seen.add(key);
          return true;
        });
        const yaml = [
          `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: meshgate
  listeners:
${listeners
  .map(
    (l) =>
      `  - {name: ${l.name}, protocol: HTTP, port: ${l.port}${l.hostname === undefined ? "" : `, hostname: "${l.hostname}"`}, allowedRoutes: {namespaces: {from: ${l.from}}}}`,
  )
  .join("\n")}`,
          ...routes.map(
            (r, i) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r${i}, namespace: ${r.namespace}}
spec:
  parentRefs: [{name: gw, namespace: infra${r.sectionName === undefined ? "" : `, sectionName: ${r.sectionName}`}${r.port === undefined ? "" : `, port: ${r.port}`}}]
  hostnames: [${r.hostnames.map((h) => `"${h}"`).join(", ")}]
  rules: [{backendRefs: []}]`,
          ),
        ].join("\n---\n");
        const { status } = run(yaml);

        const expected = new Map(listeners.map((l) => [l.name, 0]));
        routes.forEach((r, i) => {
          const selected = listeners.filter(
            (l) => (r.sectionName === undefined || l.name === r.sectionName) && (r.port === undefined || l.port === r.port),
          );
          const admitting = selected.filter((l) => l.from === "All" || r.namespace === "infra");
          const sharing = admitting.filter(
            (l) => r.hostnames.length === 0 || r.hostnames.some((h) => hostsIntersect(l.hostname, h)),
          );
          for (const l of sharing) expected.set(l.name, (expected.get(l.name) ?? 0) + 1);
          const reason =
            selected.length === 0
              ? "NoMatchingParent"
              : admitting.length === 0
                ? "NotAllowedByListeners"
                : sharing.length === 0
                  ? "NoMatchingListenerHostname"
                  : "Accepted";
          const got = status.httpRoutes.find((s) => s.name === `r${i}`)?.parents[0]?.conditions.find((c) => c.type === "Accepted");
          assert.equal(got?.reason, reason, `route r${i}`);
          assert.equal(got?.status, reason === "Accepted" ? "True" : "False", `route r${i}`);
        });
        const attached = Object.fromEntries(
          (status.gateways[0]?.listeners ?? []).map((l) => [l.name, l.attachedRoutes]),
        );
        assert.deepEqual(attached, Object.fromEntries(expected));
      },
    ),
    { seed, numRuns: 300 },
  );
  t.pass();
});
