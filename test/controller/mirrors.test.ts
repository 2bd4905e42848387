// RequestMirror filters into the Snapshot: mirror clusters, sampling shares, unresolved references.
import test from "ava";
import { gateway, httpRoute, listener, routeCondition, run, service } from "../support/controller-yaml.js";

const GW = gateway("gw", "[{name: web, protocol: HTTP, port: 8080}]");
const SERVICES = `${service("api", "[{port: 80}]")}\n${service("shadow", "[{port: 8080}]")}`;

function routeWith(filters: string): string {
  return httpRoute("r", `parentRefs: [{name: gw}]\nrules: [{backendRefs: [{name: api, port: 80}], filters: ${filters}}]`);
}

test("RequestMirror filters become the action's mirrors, with their cluster and probability", (t) => {
  const { snapshot, status } = run(`${GW}${SERVICES}
${routeWith(`[
  {type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 8080}}},
  {type: RequestMirror, requestMirror: {backendRef: {name: api, port: 80}, percent: 25}},
  {type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 8080}, fraction: {numerator: 1, denominator: 8}}},
  {type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 8080}, fraction: {numerator: 3}}}]`)}`);
  const action = listener(snapshot, "default/gw/web").actions[0];
  t.deepEqual(action?.mirrors, [
    { cluster: "default/shadow:8080", probability: 1 },
    { cluster: "default/api:80", probability: 0.25 },
    { cluster: "default/shadow:8080", probability: 0.125 },
    { cluster: "default/shadow:8080", probability: 0.03 },
  ]);
  t.deepEqual(action?.backends, [{ cluster: "default/api:80", weight: 1, filters: [] }]);
  t.deepEqual(snapshot.clusters.map((c) => c.name), ["default/api:80", "default/shadow:8080"]);
  t.is(routeCondition(status, "r", "Accepted")?.status, "True");
  t.is(routeCondition(status, "r", "ResolvedRefs")?.status, "True");
});

test("an unresolved mirror backend is dropped and reported in ResolvedRefs; the primary still serves", (t) => {
  const { snapshot, status } = run(`${GW}${SERVICES}
${routeWith("[{type: RequestMirror, requestMirror: {backendRef: {name: ghost, port: 80}}}, {type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 8080}}}]")}`);
  const action = listener(snapshot, "default/gw/web").actions[0];
  t.deepEqual(action?.mirrors, [{ cluster: "default/shadow:8080", probability: 1 }]);
  t.is(action?.backends[0]?.cluster, "default/api:80");
  const c = routeCondition(status, "r", "ResolvedRefs");
  t.is(c?.status, "False");
  t.is(c?.reason, "BackendNotFound");
  t.regex(c?.message ?? "", /RequestMirror: Service default\/ghost not found/);
  t.is(routeCondition(status, "r", "Accepted")?.status, "True");
});

test("a cross-namespace mirror needs a ReferenceGrant", (t) => {
  const { snapshot, status } = run(`${GW}${SERVICES}
${routeWith("[{type: RequestMirror, requestMirror: {backendRef: {name: shadow, namespace: other, port: 8080}}}]")}`);
  t.deepEqual(listener(snapshot, "default/gw/web").actions[0]?.mirrors, []);
  t.is(routeCondition(status, "r", "ResolvedRefs")?.reason, "RefNotPermitted");
});

test("RequestMirror on a backendRef is UnsupportedValue; percent with fraction is refused at load", (t) => {
  const { status } = run(`${GW}${SERVICES}
${httpRoute("r", "parentRefs: [{name: gw}]\nrules: [{backendRefs: [{name: api, port: 80, filters: [{type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 8080}}}]}]}]")}`);
  t.is(routeCondition(status, "r", "Accepted")?.reason, "UnsupportedValue");
  t.throws(() =>
    run(`${GW}${SERVICES}
${routeWith("[{type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 8080}, percent: 5, fraction: {numerator: 1}}}]")}`),
  );
});
