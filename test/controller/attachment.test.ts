// Which listeners a route attaches to, with which host names, and the conditions that explain it.
import test from "ava";
import {
  entryRoutes,
  gateway,
  httpRoute,
  listener,
  listenerCondition,
  routeCondition,
  run,
} from "../support/controller-yaml.js";

const GW = gateway(
  "gw",
  `
  - {name: web, protocol: HTTP, port: 8080, allowedRoutes: {namespaces: {from: All}}}
  - {name: shop, protocol: HTTP, port: 8080, hostname: "*.shop.example", allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: shop}}}}}
  - {name: same, protocol: HTTP, port: 9090}
  - {name: admin, protocol: HTTP, port: 9091, hostname: admin.example, allowedRoutes: {namespaces: {from: Selector, selector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [ops, infra]}]}}}}
  - {name: tls, protocol: HTTPS, port: 8443}`,
  { namespace: "infra" },
);

const SHOP_NS = `---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
`;

function route(name: string, namespace: string, spec: string): string {
  return httpRoute(name, `${spec}\nrules: [{backendRefs: []}]`, { namespace });
}

function attached(status: ReturnType<typeof run>["status"]): Record<string, number> {
  return Object.fromEntries(status.gateways[0]?.listeners.map((l) => [l.name, l.attachedRoutes]) ?? []);
}

test("sectionName and port narrow the parentRef to listeners; no sectionName means every listener that admits the route", (t) => {
  const { snapshot, status } = run(`${GW}${SHOP_NS}
${route("by-port", "shop", "parentRefs: [{name: gw, namespace: infra, port: 8080}]")}
${route("by-section", "infra", "parentRefs: [{name: gw, sectionName: same}]")}
${route("whole", "infra", "parentRefs: [{name: gw}]")}
`);
  t.deepEqual(entryRoutes(listener(snapshot, "infra/gw/web")), ["infra/whole", "shop/by-port"]);
  t.deepEqual(entryRoutes(listener(snapshot, "infra/gw/shop")), ["shop/by-port"]);
  t.deepEqual(entryRoutes(listener(snapshot, "infra/gw/same")), ["infra/by-section", "infra/whole"]);
  t.deepEqual(entryRoutes(listener(snapshot, "infra/gw/admin")), ["infra/whole"]);
  // The HTTPS listener is not served, yet a route it admits counts as attached, as the spec asks.
  t.deepEqual(attached(status), { web: 2, shop: 1, same: 2, admin: 1, tls: 1 });
  for (const name of ["by-port", "by-section", "whole"])
    t.is(routeCondition(status, name, "Accepted")?.reason, "Accepted");
  t.is(routeCondition(status, "whole", "ResolvedRefs")?.status, "True");
  const parent = status.httpRoutes.find((r) => r.name === "by-port")?.parents[0];
  t.deepEqual(parent?.parentRef, {
    group: "gateway.networking.k8s.io",
    kind: "Gateway",
    namespace: "infra",
    name: "gw",
    port: 8080,
  });
  t.is(parent?.controllerName, "meshgate.io/gateway-controller");
});

test("allowedRoutes namespaces: Same (the default), All, and Selector with matchLabels or matchExpressions", (t) => {
  const { status } = run(`${GW}${SHOP_NS}
${route("same-ok", "infra", "parentRefs: [{name: gw, sectionName: same}]")}
${route("same-no", "apps", "parentRefs: [{name: gw, namespace: infra, sectionName: same}]")}
${route("all-ok", "apps", "parentRefs: [{name: gw, namespace: infra, sectionName: web}]")}
${route("labels-ok", "shop", "parentRefs: [{name: gw, namespace: infra, sectionName: shop}]")}
${route("labels-no", "apps", "parentRefs: [{name: gw, namespace: infra, sectionName: shop}]")}
${route("expr-ok", "ops", "parentRefs: [{name: gw, namespace: infra, sectionName: admin}]")}
${route("expr-no", "shop", "parentRefs: [{name: gw, namespace: infra, sectionName: admin}]")}
`);
  const reason = (name: string) => routeCondition(status, name, "Accepted")?.reason;
  t.is(reason("same-ok"), "Accepted");
  t.is(reason("same-no"), "NotAllowedByListeners");
  t.regex(
    routeCondition(status, "same-no", "Accepted")?.message ?? "",
    /listener same allows routes from namespace infra only/,
  );
  t.is(reason("all-ok"), "Accepted");
  t.is(reason("labels-ok"), "Accepted");
  t.is(reason("labels-no"), "NotAllowedByListeners");
  // A namespace with no Namespace object still has its kubernetes.io/metadata.name label.
  t.is(reason("expr-ok"), "Accepted");
  t.is(reason("expr-no"), "NotAllowedByListeners");
});

test("allowedRoutes kinds: a listener that admits no HTTPRoute refuses it and reports InvalidRouteKinds", (t) => {
  const { snapshot, status } = run(`${gateway(
    "k",
    `
  - {name: grpc-only, protocol: HTTP, port: 8000, allowedRoutes: {kinds: [{kind: GRPCRoute}]}}
  - {name: mixed, protocol: HTTP, port: 8001, allowedRoutes: {kinds: [{kind: HTTPRoute}, {kind: TCPRoute}]}}
  - {name: explicit, protocol: HTTP, port: 8002, allowedRoutes: {kinds: [{group: gateway.networking.k8s.io, kind: HTTPRoute}]}}`,
  )}
${route("a", "default", "parentRefs: [{name: k, sectionName: grpc-only}]")}
${route("b", "default", "parentRefs: [{name: k, sectionName: mixed}]")}
${route("c", "default", "parentRefs: [{name: k, sectionName: explicit}]")}
`);
  t.is(routeCondition(status, "a", "Accepted")?.reason, "NotAllowedByListeners");
  t.is(routeCondition(status, "b", "Accepted")?.reason, "Accepted");
  t.is(routeCondition(status, "c", "Accepted")?.reason, "Accepted");
  const grpc = listenerCondition(status, "default/k", "grpc-only", "ResolvedRefs");
  t.is(grpc?.reason, "InvalidRouteKinds");
  t.regex(grpc?.message ?? "", /GRPCRoute/);
  t.is(listenerCondition(status, "default/k", "mixed", "ResolvedRefs")?.reason, "InvalidRouteKinds");
  t.is(listenerCondition(status, "default/k", "explicit", "ResolvedRefs")?.status, "True");
  const supported = status.gateways[0]?.listeners.map((l) => l.supportedKinds.map((k) => k.kind));
  t.deepEqual(supported, [[], ["HTTPRoute"], ["HTTPRoute"]]);
  // The listener is still served (an empty one): invalid kinds do not stop it.
  t.deepEqual(listener(snapshot, "default/k/grpc-only").entries, []);
});

test("parentRefs that select nothing: NoMatchingParent, with what was missing", (t) => {
  const { status } = run(`${GW}
${route("no-gw", "infra", "parentRefs: [{name: nope}]")}
${route("no-section", "infra", "parentRefs: [{name: gw, sectionName: nope}]")}
${route("no-port", "infra", "parentRefs: [{name: gw, sectionName: same, port: 8080}]")}
${route("not-gw", "infra", "parentRefs: [{name: gw, kind: Service, group: ''}]")}
${route("other-ns", "apps", "parentRefs: [{name: gw}]")}
`);
  const c = (name: string) => routeCondition(status, name, "Accepted");
  t.regex(c("no-gw")?.message ?? "", /Gateway infra\/nope not found/);
  t.regex(c("no-section")?.message ?? "", /no listener named nope/);
  t.regex(c("no-port")?.message ?? "", /no listener named same on port 8080/);
  t.regex(c("not-gw")?.message ?? "", /only Gateway/);
  t.regex(c("other-ns")?.message ?? "", /Gateway apps\/gw not found/);
  for (const name of ["no-gw", "no-section", "no-port", "not-gw", "other-ns"]) {
    t.is(c(name)?.reason, "NoMatchingParent");
    t.is(c(name)?.status, "False");
  }
});

test("a route reports one status per parentRef", (t) => {
  const { status } = run(`${GW}
${route("two", "infra", "parentRefs: [{name: gw, sectionName: same}, {name: gone}]")}
`);
  t.deepEqual(
    status.httpRoutes[0]?.parents.map((p) => [
      p.parentRef.name,
      p.conditions.map((c) => `${c.type}=${c.status}`),
    ]),
    [
      ["gw", ["Accepted=True", "ResolvedRefs=True"]],
      ["gone", ["Accepted=False", "ResolvedRefs=True"]],
    ],
  );
});

test("hostnames intersect with the listener's, wildcards included", (t) => {
  const { snapshot, status } = run(`${GW}${SHOP_NS}
${route("cart", "shop", 'parentRefs: [{name: gw, namespace: infra, port: 8080}]\nhostnames: ["cart.shop.example", "*.shop.example", "other.example", "shop.example", "a.b.shop.example"]')}
${route("wild", "infra", 'parentRefs: [{name: gw, sectionName: admin}]\nhostnames: ["*.example"]')}
${route("any", "infra", "parentRefs: [{name: gw, sectionName: admin}]")}
`);
  // *.shop.example covers cart.shop.example and a.b.shop.example, not shop.example itself.
  t.deepEqual(listener(snapshot, "infra/gw/shop").entries[0]?.hostnames, [
    "cart.shop.example",
    "*.shop.example",
    "a.b.shop.example",
  ]);
  t.deepEqual(listener(snapshot, "infra/gw/web").entries[0]?.hostnames, [
    "cart.shop.example",
    "*.shop.example",
    "other.example",
    "shop.example",
    "a.b.shop.example",
  ]);
  // A route wildcard narrows to the listener's exact name; no route hostnames = whatever the listener takes.
  const admin = listener(snapshot, "infra/gw/admin");
  t.deepEqual(
    admin.entries.map((e) => [admin.actions[e.action]?.route, e.hostnames]),
    [
      ["infra/any", []],
      ["infra/wild", ["admin.example"]],
    ],
  );
  t.is(routeCondition(status, "wild", "Accepted")?.reason, "Accepted");
});

test("no hostname intersection on any listener: NoMatchingListenerHostname, and nothing is served", (t) => {
  const { snapshot, status } = run(`${GW}${SHOP_NS}
${route("wrong", "shop", 'parentRefs: [{name: gw, namespace: infra, sectionName: shop}]\nhostnames: ["shop.example", "www.elsewhere.example"]')}
`);
  const c = routeCondition(status, "wrong", "Accepted");
  t.is(c?.reason, "NoMatchingListenerHostname");
  t.is(c?.status, "False");
  t.deepEqual(listener(snapshot, "infra/gw/shop").entries, []);
});

test("a route that only reaches listeners that are not served is not accepted", (t) => {
  const { status } = run(`${GW}
${route("secure", "infra", "parentRefs: [{name: gw, sectionName: tls}]")}
`);
  const c = routeCondition(status, "secure", "Accepted");
  t.is(c?.reason, "NotAllowedByListeners");
  t.regex(c?.message ?? "", /tls is not programmed/);
  t.is(status.gateways[0]?.listeners.find((l) => l.name === "tls")?.attachedRoutes, 1);
});
