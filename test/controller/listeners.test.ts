// Gateways and listeners: which are served, how ports merge, conflicts, and their conditions.
import test from "ava";
import { GATEWAY_CLASS, gateway, httpRoute, listenerCondition, run } from "../support/controller-yaml.js";

function types(conditions: { type: string; status: string; reason: string }[] | undefined): string[] {
  return (conditions ?? []).map((c) => `${c.type}=${c.status}/${c.reason}`);
}

test("every listener is served, even without routes; listeners sharing a port merge, most specific hostname first", (t) => {
  const { snapshot } = run(
    `${GATEWAY_CLASS}${gateway(
      "edge",
      `
  - {name: any, protocol: HTTP, port: 8080}
  - {name: wild-short, protocol: HTTP, port: 8080, hostname: "*.example.com"}
  - {name: exact, protocol: HTTP, port: 8080, hostname: api.example.com}
  - {name: wild-long, protocol: HTTP, port: 8080, hostname: "*.eu.example.com"}
  - {name: other, protocol: HTTP, port: 80}`,
    )}`,
  );
  t.deepEqual(
    snapshot.ports.map((p) => [p.port, p.address, p.protocol, p.listeners.map((l) => l.name)]),
    [
      [80, "0.0.0.0", "HTTP", ["default/edge/other"]],
      [
        8080,
        "0.0.0.0",
        "HTTP",
        ["default/edge/exact", "default/edge/wild-long", "default/edge/wild-short", "default/edge/any"],
      ],
    ],
  );
  const exact = snapshot.ports[1]?.listeners[0];
  t.deepEqual(exact, {
    name: "default/edge/exact",
    gateway: "default/edge",
    hostname: "api.example.com",
    entries: [],
    actions: [],
  });
  t.is(snapshot.ports[1]?.listeners[3]?.hostname, undefined);
});

test("two listeners with one port and hostname: the later one is Conflicted and not served, across Gateways too", (t) => {
  const { snapshot, status } = run(`${GATEWAY_CLASS}
${gateway("b-newer", "[{name: dup, protocol: HTTP, port: 8000}]", { created: "2024-01-01T00:00:00Z" })}
${gateway(
  "a-older",
  "[{name: one, protocol: HTTP, port: 8000, hostname: x.example}, {name: two, protocol: HTTP, port: 8000, hostname: x.example}, {name: three, protocol: HTTP, port: 8000}]",
  { created: "2023-01-01T00:00:00Z" },
)}
${httpRoute("r", "parentRefs: [{name: a-older, sectionName: two}]")}`);
  t.deepEqual(
    snapshot.ports[0]?.listeners.map((l) => l.name),
    ["default/a-older/one", "default/a-older/three"],
  );
  const two = listenerCondition(status, "default/a-older", "two", "Conflicted");
  t.is(two?.status, "True");
  t.is(two?.reason, "HostnameConflict");
  t.regex(two?.message ?? "", /default\/a-older\/one already serves port 8000 for x\.example/);
  t.deepEqual(types(status.gateways.find((g) => g.name === "a-older")?.listeners[1]?.conditions), [
    "Accepted=False/HostnameConflict",
    "Conflicted=True/HostnameConflict",
    "ResolvedRefs=True/ResolvedRefs",
    "Programmed=False/Invalid",
  ]);
  // The newer Gateway's listener takes the same port with no hostname, which "three" already holds.
  t.is(listenerCondition(status, "default/b-newer", "dup", "Conflicted")?.status, "True");
  const newer = status.gateways.find((g) => g.name === "b-newer");
  t.deepEqual(types(newer?.conditions), ["Accepted=False/ListenersNotValid", "Programmed=False/Invalid"]);
  t.deepEqual(newer?.addresses, []);
  t.is(status.httpRoutes[0]?.parents[0]?.conditions[0]?.reason, "NotAllowedByListeners");
});

test("a listener of another protocol is reported UnsupportedProtocol and not served; HTTPS and TLS ones without certificates are not served; its Gateway still serves HTTP", (t) => {
  const { snapshot, status } = run(
    `${GATEWAY_CLASS}${gateway(
      "edge",
      "[{name: web, protocol: HTTP, port: 8080}, {name: secure, protocol: HTTPS, port: 8443, hostname: a.example}, {name: passthrough, protocol: TLS, port: 9443}, {name: tcp, protocol: TCP, port: 9000}]",
    )}`,
  );
  t.deepEqual(
    snapshot.ports.map((p) => p.port),
    [8080],
  );
  const gw = status.gateways[0];
  t.deepEqual(types(gw?.listeners[1]?.conditions), [
    "Accepted=True/Accepted",
    "Conflicted=False/NoConflicts",
    "ResolvedRefs=False/InvalidCertificateRef",
    "Programmed=False/Invalid",
  ]);
  t.regex(gw?.listeners[1]?.conditions[2]?.message ?? "", /needs tls.certificateRefs/);
  // A TLS listener without tls has neither a mode nor a certificate: refused the same way.
  t.deepEqual(types(gw?.listeners[2]?.conditions), [
    "Accepted=True/Accepted",
    "Conflicted=False/NoConflicts",
    "ResolvedRefs=False/InvalidCertificateRef",
    "Programmed=False/Invalid",
  ]);
  t.regex(gw?.listeners[2]?.conditions[2]?.message ?? "", /a TLS listener needs tls: mode Passthrough, or mode Terminate with certificateRefs/);
  t.deepEqual(types(gw?.listeners[3]?.conditions).slice(0, 1), ["Accepted=False/UnsupportedProtocol"]);
  t.deepEqual(types(gw?.conditions), ["Accepted=True/ListenersNotValid", "Programmed=True/Programmed"]);
  t.deepEqual(gw?.addresses, ["0.0.0.0"]);
  t.deepEqual(types(gw?.listeners[0]?.conditions), [
    "Accepted=True/Accepted",
    "Conflicted=False/NoConflicts",
    "ResolvedRefs=True/ResolvedRefs",
    "Programmed=True/Programmed",
  ]);
});

test("GatewayClasses are accepted; a Gateway is served whatever its class, and a missing class is said", (t) => {
  const { snapshot, status } =
    run(`${GATEWAY_CLASS}${gateway("known", "[{name: a, protocol: HTTP, port: 8001}]")}
${gateway("typo", "[{name: b, protocol: HTTP, port: 8002}]", { className: "meshgat" })}`);
  t.deepEqual(status.gatewayClasses, [
    {
      name: "meshgate",
      controllerName: "meshgate.io/gateway-controller",
      conditions: [
        {
          type: "Accepted",
          status: "True",
          reason: "Accepted",
          message: "meshgate serves this class",
          observedGeneration: 1,
        },
      ],
    },
  ]);
  t.deepEqual(
    snapshot.ports.map((p) => p.port),
    [8001, 8002],
  );
  const typo = status.gateways.find((g) => g.name === "typo")?.conditions[0];
  t.is(typo?.status, "True");
  t.regex(typo?.message ?? "", /GatewayClass meshgat is not in the configuration/);
  t.is(status.gateways.find((g) => g.name === "known")?.conditions[0]?.message, "gateway accepted");
});

test("conditions carry the object's generation", (t) => {
  const { status } = run(`---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: g, generation: 4}
spec: {gatewayClassName: x, listeners: [{name: a, protocol: HTTP, port: 8000}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, generation: 9}
spec: {parentRefs: [{name: g}]}
`);
  const gw = status.gateways[0];
  t.true(
    [...(gw?.conditions ?? []), ...(gw?.listeners[0]?.conditions ?? [])].every(
      (c) => c.observedGeneration === 4,
    ),
  );
  t.true(status.httpRoutes[0]?.parents[0]?.conditions.every((c) => c.observedGeneration === 9) ?? false);
});
