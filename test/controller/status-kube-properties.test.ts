// The status bodies meshgate writes to Kubernetes, from generated reports and generated current
// statuses (other controllers' entries, stale entries of meshgate's, foreign condition types,
// conditions written for newer generations): the rules of the Gateway API spec, checked against
// an oracle written from its text.
import test from "ava";
import fc from "fast-check";
import type { Condition } from "../../controller/status/conditions.js";
import { gatewayStatusBody } from "../../controller/status/kube/gateway.js";
import { gatewayClassStatusBody } from "../../controller/status/kube/gateway-class.js";
import { isRecord, semanticEqual } from "../../controller/status/kube/json.js";
import { applyMergePatch, mergePatchTo } from "../../controller/status/kube/merge-patch.js";
import { parentKey } from "../../controller/status/kube/parent-refs.js";
import { policyStatusBody } from "../../controller/status/kube/policy.js";
import { routeStatusBody } from "../../controller/status/kube/route.js";
import type { GatewayStatus, ParentReference, PolicyStatus, RouteStatus } from "../../controller/status/report.js";
import { fcSeed } from "../support/fc-seed.js";

const OURS = "meshgate.io/gateway-controller";
const OTHERS = ["example.net/other-controller", "istio.io/gateway-controller"] as const;
const GROUP = "gateway.networking.k8s.io";
const NS = "apps";
const T1 = "2030-01-01T00:00:00Z";
const T2 = "2030-01-02T00:00:00Z";
const OUR_TYPES = ["Accepted", "ResolvedRefs", "Programmed", "Conflicted"] as const;
const FOREIGN_TYPES = ["example.com/Special", "Ready"] as const;
/** Gateway g3 is another controller's: meshgate writes no parent entry for it. */
const owns = (ref: ParentReference) => ref.name !== "g3";

const options = (seed: number) => ({ seed, numRuns: 300 });

const conditionOf = (type: string): fc.Arbitrary<Condition> =>
  fc.record({
    type: fc.constant(type),
    status: fc.constantFrom("True" as const, "False" as const),
    reason: fc.constantFrom("Accepted", "Invalid", "NoMatchingParent", "Programmed"),
    message: fc.string({ maxLength: 12 }),
    observedGeneration: fc.integer({ min: 1, max: 4 }),
  });

/** A report's conditions: distinct types of meshgate's. */
const desiredConditions = fc
  .uniqueArray(fc.constantFrom(...OUR_TYPES), { minLength: 1, maxLength: 4 })
  .chain((types) => fc.tuple(...types.map(conditionOf)));

/** What the API server may hold: any types (ours and others'), any generation, any times. */
const currentConditionOf = (types: readonly string[]) => fc.record({
  type: fc.constantFrom(...types),
  status: fc.constantFrom("True", "False", "Unknown"),
  reason: fc.constantFrom("Accepted", "Pending", "Whatever"),
  message: fc.string({ maxLength: 8 }),
  observedGeneration: fc.integer({ min: 0, max: 6 }),
  lastTransitionTime: fc.constantFrom("1970-01-01T00:00:00Z", "2024-05-06T07:08:09Z", "2025-01-01T00:00:00Z"),
});
const currentConditionsOf = (types: readonly string[]) =>
  fc.uniqueArray(currentConditionOf(types), { maxLength: 5, selector: (c) => c.type });
const currentConditions = currentConditionsOf([...OUR_TYPES, ...FOREIGN_TYPES]);

const parentRef: fc.Arbitrary<ParentReference> = fc.record(
  {
    group: fc.constant(GROUP),
    kind: fc.constant("Gateway"),
    namespace: fc.constantFrom(NS, "infra"),
    name: fc.constantFrom("g1", "g2", "g3"),
    sectionName: fc.constantFrom("a", "b"),
  },
  { requiredKeys: ["group", "kind", "namespace", "name"] },
);

/** A reference as someone may have stored it: defaults left out where they apply. */
const storedRef = parentRef.chain((ref) =>
  fc.record({ short: fc.boolean() }).map(({ short }) => {
    if (!short) return { ...ref } as Record<string, unknown>;
    const { namespace, name, sectionName } = ref;
    const rest = { name, ...(sectionName === undefined ? {} : { sectionName }) };
    return namespace === NS ? rest : { namespace, ...rest };
  }),
);

const currentEntry = (refField: string) =>
  fc.record({
    [refField]: storedRef,
    controllerName: fc.constantFrom(OURS, ...OTHERS),
    conditions: currentConditions,
  });

const currentList = (refField: string) =>
  fc.array(fc.oneof({ weight: 9, arbitrary: currentEntry(refField) }, { weight: 1, arbitrary: fc.constant("not an entry") }), {
    maxLength: 6,
  });

const route: fc.Arbitrary<RouteStatus> = fc.record({
  namespace: fc.constant(NS),
  name: fc.constant("r"),
  hostnames: fc.constant([]),
  parents: fc.array(fc.record({ parentRef, controllerName: fc.constant(OURS), conditions: desiredConditions }), { maxLength: 4 }),
});

const routeInputs = (now: string) => ({ controllerName: OURS, ownsParent: owns, now });

function entriesOf(body: Record<string, unknown>, field: string): unknown[] {
  const list = body[field];
  return Array.isArray(list) ? list : [];
}
const isOurs = (e: unknown): e is Record<string, unknown> => isRecord(e) && e["controllerName"] === OURS;
const conditionsIn = (e: unknown): Record<string, unknown>[] =>
  isRecord(e) && Array.isArray(e["conditions"]) ? (e["conditions"] as Record<string, unknown>[]) : [];

/**
 * The spec's rule for one condition meshgate reports, given the one of its type already there:
 * a newer generation's stays as it is; otherwise the report's, with the transition time kept
 * while the status is the same.
 */
function expectedCondition(d: Condition, before: Record<string, unknown> | undefined, now: string): unknown {
  if (before !== undefined && (before["observedGeneration"] as number) > d.observedGeneration) return before;
  const since = before !== undefined && before["status"] === d.status ? before["lastTransitionTime"] : now;
  return { ...d, lastTransitionTime: since };
}

/**
 * The spec's rule for a condition list: every condition stays in its place, replaced when meshgate
 * reports its type, removed when meshgate is responsible for the type and no longer reports it,
 * untouched otherwise; the types new to the list follow in the report's order.
 */
function expectedConditions(desired: readonly Condition[], current: readonly Record<string, unknown>[], owned: { has(type: string): boolean }, now: string): unknown[] {
  const out: unknown[] = [];
  for (const c of current) {
    const d = desired.find((x) => x.type === c["type"]);
    if (d !== undefined) out.push(expectedCondition(d, c, now));
    else if (!owned.has(c["type"] as string)) out.push(c);
  }
  for (const d of desired) if (!current.some((c) => c["type"] === d.type)) out.push(expectedCondition(d, undefined, now));
  return out;
}

/** The condition types meshgate is responsible for, per place (what its translation sets there). */
const GATEWAY_OWNED = new Set(["Accepted", "Programmed"]);
const LISTENER_OWNED = new Set(["Accepted", "Conflicted", "ResolvedRefs", "Programmed"]);

test("route parents: idempotent; other controllers' entries untouched in place; one entry per reported parent of ours", (t) => {
  const seed = fcSeed();
  t.log(`FC_SEED=${seed}`);
  fc.assert(
    fc.property(route, currentList("parentRef"), (r, parents) => {
      const current = { parents };
      const first = routeStatusBody(r, current, routeInputs(T1));
      // Applying it again (a resync, another leader) changes nothing.
      if (!semanticEqual(routeStatusBody(r, first, routeInputs(T2)), first)) return false;
      const after = entriesOf(first, "parents");
      // Others' entries (and anything that is no entry at all) survive, same order, same content.
      const foreign = (list: unknown[]) => list.filter((e) => !isOurs(e));
      if (!semanticEqual(foreign(after), foreign(parents))) return false;
      // Each stays where it was relative to the others: nothing of ours moved in front of a kept entry.
      const wanted = new Map<string, (typeof r.parents)[number]>();
      for (const p of r.parents) {
        const key = parentKey(p.parentRef, NS) as string;
        if (owns(p.parentRef) && !wanted.has(key)) wanted.set(key, p);
      }
      const ours = after.filter(isOurs);
      const keys = ours.map((e) => parentKey(e["parentRef"], NS));
      if (new Set(keys).size !== keys.length) return false;
      if (!semanticEqual([...keys].sort(), [...wanted.keys()].sort())) return false;
      if (!parents.some(isOurs) && r.parents.every((p) => !owns(p.parentRef))) return first === current || semanticEqual(first, current);
      return ours.every((e) => {
        const key = parentKey(e["parentRef"], NS) as string;
        const d = wanted.get(key);
        const before = parents.find((p) => isOurs(p) && parentKey(p["parentRef"], NS) === key);
        // Every condition of meshgate's own entry is meshgate's: merged with what was there, the rest removed.
        return semanticEqual(e["conditions"], expectedConditions(d?.conditions ?? [], conditionsIn(before), { has: () => true }, T1));
      });
    }),
    options(seed),
  );
  t.pass();
});

test("policy ancestors follow the same rules, keyed by ancestorRef and controllerName", (t) => {
  const seed = fcSeed();
  t.log(`FC_SEED=${seed}`);
  const policy: fc.Arbitrary<PolicyStatus> = fc.record({
    kind: fc.constant("BackendTrafficPolicy"),
    namespace: fc.constant(NS),
    name: fc.constant("p"),
    conditions: fc.constant([]),
    ancestors: fc.array(fc.record({ ancestorRef: parentRef, conditions: desiredConditions }), { maxLength: 4 }),
  });
  fc.assert(
    fc.property(policy, currentList("ancestorRef"), (p, ancestors) => {
      const first = policyStatusBody(p, { ancestors }, { controllerName: OURS, now: T1 });
      if (!semanticEqual(policyStatusBody(p, first, { controllerName: OURS, now: T2 }), first)) return false;
      const after = entriesOf(first, "ancestors");
      const foreign = (list: unknown[]) => list.filter((e) => !isOurs(e));
      if (!semanticEqual(foreign(after), foreign(ancestors))) return false;
      const wanted = new Set(p.ancestors.map((a) => parentKey(a.ancestorRef, NS)));
      const keys = after.filter(isOurs).map((e) => parentKey(e["ancestorRef"], NS));
      return keys.length === wanted.size && keys.every((k) => wanted.has(k));
    }),
    options(seed),
  );
  t.pass();
});

const listenerStatus = (name: string) =>
  fc.record({
    name: fc.constant(name),
    port: fc.constant(8080),
    protocol: fc.constant("HTTP"),
    hostname: fc.constant(null),
    supportedKinds: fc.constant(null).map(() => [{ group: GROUP, kind: "HTTPRoute" }]),
    attachedRoutes: fc.nat({ max: 3 }),
    conditions: desiredConditions,
  });

const gateway: fc.Arbitrary<GatewayStatus> = fc.record({
  namespace: fc.constant(NS),
  name: fc.constant("g1"),
  className: fc.constant("meshgate"),
  addresses: fc.constant([]),
  conditions: desiredConditions,
  listeners: fc.uniqueArray(fc.constantFrom("a", "b", "c"), { minLength: 1, maxLength: 3 }).chain((names) => fc.tuple(...names.map(listenerStatus))),
});

test("Gateway conditions: foreign types kept in place, meshgate's merged; transition times move only with a status", (t) => {
  const seed = fcSeed();
  t.log(`FC_SEED=${seed}`);
  const currentListener = fc.record({
    name: fc.constantFrom("a", "b", "z"),
    attachedRoutes: fc.nat({ max: 3 }),
    supportedKinds: fc.constant([]),
    conditions: currentConditions,
  });
  fc.assert(
    fc.property(gateway, currentConditions, fc.uniqueArray(currentListener, { selector: (l) => l.name, maxLength: 3 }), (g, conditions, listeners) => {
      const current = { conditions, listeners, addresses: [{ type: "IPAddress", value: "192.0.2.1" }] };
      const inputs = (now: string) => ({ addresses: undefined, now });
      const first = gatewayStatusBody(g, current, inputs(T1));
      if (!semanticEqual(gatewayStatusBody(g, first, inputs(T2)), first)) return false;
      // Unknown addresses: what was written stays.
      if (!semanticEqual(first["addresses"], current.addresses)) return false;
      // In place: others' types untouched, meshgate's merged (times kept while a status stays),
      // a type meshgate owns and no longer reports removed.
      if (!semanticEqual(first["conditions"], expectedConditions(g.conditions, conditions, GATEWAY_OWNED, T1))) return false;
      // Listeners: the report's, in its order, each merged with the one of its name.
      const ls = first["listeners"] as Record<string, unknown>[];
      if (!semanticEqual(ls.map((l) => l["name"]), g.listeners.map((l) => l.name))) return false;
      return g.listeners.every((l, i) => {
        const before = listeners.find((x) => x.name === l.name)?.conditions ?? [];
        return ls[i]?.["attachedRoutes"] === l.attachedRoutes && semanticEqual(ls[i]?.["conditions"], expectedConditions(l.conditions, before, LISTENER_OWNED, T1));
      });
    }),
    options(seed),
  );
  t.pass();
});

test("a changed report moves lastTransitionTime only on the conditions whose status changed", (t) => {
  const seed = fcSeed();
  t.log(`FC_SEED=${seed}`);
  fc.assert(
    fc.property(gateway, fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), (g, flips, rewords) => {
      const written = gatewayStatusBody(g, undefined, { addresses: [], now: T1 });
      // A newer report: some statuses flip, some messages change, at the next generation.
      const next: GatewayStatus = {
        ...g,
        conditions: g.conditions.map((c, i) => ({
          ...c,
          observedGeneration: c.observedGeneration + 1,
          status: flips[i] ? (c.status === "True" ? "False" : "True") : c.status,
          message: rewords[i] ? `${c.message} (again)` : c.message,
        })),
      };
      const rewritten = gatewayStatusBody(next, written, { addresses: [], now: T2 });
      const times = (body: Record<string, unknown>) =>
        Object.fromEntries((body["conditions"] as Record<string, unknown>[]).map((c) => [c["type"], c["lastTransitionTime"]]));
      const before = times(written);
      const after = times(rewritten);
      return g.conditions.every((c, i) => before[c.type] === T1 && after[c.type] === (flips[i] ? T2 : T1));
    }),
    options(seed),
  );
  t.pass();
});

test("GatewayClass: Accepted from the report and SupportedVersion from the CRD bundle; idempotent over any current conditions", (t) => {
  const seed = fcSeed();
  t.log(`FC_SEED=${seed}`);
  fc.assert(
    fc.property(
      currentConditionsOf(["Accepted", "SupportedVersion", ...FOREIGN_TYPES]),
      fc.constantFrom(undefined, "v1.6.3", "v1.5.0", "v1.7.0", "v0.0.0-dev", "v1.6"),
      (conditions, bundleVersion) => {
        const entry = { name: "meshgate", controllerName: OURS, conditions: [{ type: "Accepted", status: "True" as const, reason: "Accepted", message: "ok", observedGeneration: 2 }] };
        const first = gatewayClassStatusBody(entry, { conditions }, { bundleVersion, now: T1 });
        if (!semanticEqual(gatewayClassStatusBody(entry, first, { bundleVersion, now: T2 }), first)) return false;
        const supported = (first["conditions"] as Record<string, unknown>[]).find((c) => c["type"] === "SupportedVersion");
        const expected = bundleVersion === "v1.6.3" || bundleVersion === "v1.5.0" ? ["True", "SupportedVersion"] : ["False", "UnsupportedVersion"];
        const newer = conditions.find((c) => c.type === "SupportedVersion" && c.observedGeneration > 2);
        return newer !== undefined ? semanticEqual(supported, newer) : semanticEqual([supported?.["status"], supported?.["reason"]], expected);
      },
    ),
    options(seed),
  );
  t.pass();
});

test("semantic equality ignores key order and nothing else", (t) => {
  const seed = fcSeed();
  t.log(`FC_SEED=${seed}`);
  const shuffled = (value: unknown, order: number): unknown => {
    if (Array.isArray(value)) return value.map((v) => shuffled(v, order));
    if (!isRecord(value)) return value;
    const entries = Object.entries(value).map(([k, v]) => [k, shuffled(v, order)] as const);
    return Object.fromEntries(order % 2 === 0 ? entries.reverse() : entries);
  };
  fc.assert(
    fc.property(fc.jsonValue(), fc.jsonValue(), fc.nat(), (a, b, order) => {
      if (!semanticEqual(a, shuffled(a, order))) return false;
      // Equal exactly when the canonical JSON texts are.
      const canonical = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (isRecord(x) ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => (p < q ? -1 : 1))) : x));
      return semanticEqual(a, b) === (canonical(a) === canonical(b));
    }),
    options(seed),
  );
  t.pass();
});

test("the merge patch sent turns the stored status into exactly the one computed (removed keys sent as null)", (t) => {
  const seed = fcSeed();
  t.log(`FC_SEED=${seed}`);
  const status = fc.object({ key: fc.constantFrom("conditions", "parents", "addresses", "listeners", "x", "y"), values: [fc.string(), fc.integer(), fc.boolean()], maxDepth: 3 });
  fc.assert(
    fc.property(status, status, (current, desired) => semanticEqual(applyMergePatch(current, mergePatchTo(current, desired)), desired)),
    options(seed),
  );
  t.pass();
});
