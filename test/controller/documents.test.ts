// How one file's documents become resources or load errors, without touching the disk.
import test from "ava";
import { fromYaml } from "../support/controller-yaml.js";

test("several documents per file, empty ones, and kinds meshgate does not read", (t) => {
  const { resources, errors } = fromYaml(`---
---
# only a comment
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: istio-gw}
spec: {}
---
apiVersion: v1
kind: Service
metadata: {name: s}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, namespace: ignored, labels: {team: shop}}
`);
  t.deepEqual(errors, []);
  t.deepEqual(
    resources.map((r) => [r.kind, r.metadata.namespace, r.metadata.name]),
    [
      ["Service", "default", "s"],
      ["Namespace", "", "shop"],
    ],
  );
  t.deepEqual(resources[1]?.metadata.labels, { team: "shop" });
  t.is(resources[0]?.metadata.generation, 1);
  t.is(resources[0]?.source, "test.yaml");
});

test("broken YAML, nameless objects and wrong shapes are reported by document; the others load", (t) => {
  const { resources, errors } = fromYaml(
    `apiVersion: v1
kind: Service
metadata: {}
---
apiVersion: v1
kind: Service
metadata: {name: good}
spec: {ports: [{port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec: {listeners: [{name: web, protocol: HTTP, port: 70000}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: apps}
spec: {rules: [{backendRefs: [{name: api}]}]}
---
kind: Gateway
metadata: {name: [unclosed
`,
    "mixed.yaml",
  );
  t.deepEqual(
    resources.map((r) => r.metadata.name),
    ["good"],
  );
  t.deepEqual(
    errors.map((e) => [e.file, e.document, e.object]),
    [
      ["mixed.yaml", 0, "Service"],
      ["mixed.yaml", 2, "Gateway/default/gw"],
      ["mixed.yaml", 3, "HTTPRoute/apps/r"],
      ["mixed.yaml", 4, undefined],
    ],
  );
  t.regex(errors[0]?.message ?? "", /^metadata\.name: /);
  t.regex(errors[1]?.message ?? "", /^spec\.listeners\.0\.port: /);
  t.regex(errors[2]?.message ?? "", /port is required when the backendRef is a Service/);
  t.regex(errors[3]?.message ?? "", /^YAML: /);
});

test("apiVersions: the Gateway API's served versions load, others of a known kind are refused", (t) => {
  const doc = (apiVersion: string, kind: string, name: string) =>
    `---\napiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: ${name}}\nspec: {from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: a}], to: [{kind: Service}], controllerName: x}\n`;
  const { resources, errors } = fromYaml(
    [
      doc("gateway.networking.k8s.io/v1beta1", "GatewayClass", "c1"),
      doc("gateway.networking.k8s.io/v1alpha2", "ReferenceGrant", "g1"),
      doc("gateway.networking.k8s.io/v1", "ReferenceGrant", "g2"),
      doc("gateway.networking.k8s.io/v1alpha2", "GatewayClass", "c2"),
      doc("v2", "Service", "s"),
    ].join(""),
  );
  t.deepEqual(
    resources.map((r) => `${r.apiVersion} ${r.kind}/${r.metadata.name}`),
    [
      "gateway.networking.k8s.io/v1beta1 GatewayClass/c1",
      "gateway.networking.k8s.io/v1alpha2 ReferenceGrant/g1",
      "gateway.networking.k8s.io/v1 ReferenceGrant/g2",
    ],
  );
  t.deepEqual(
    errors.map((e) => e.object),
    ["GatewayClass/c2", "Service/default/s"],
  );
  t.regex(
    errors[0]?.message ?? "",
    /apiVersion gateway.networking.k8s.io\/v1alpha2 is not supported \(use gateway.networking.k8s.io\/v1, gateway.networking.k8s.io\/v1beta1\)/,
  );
});

test("the same object defined twice: the first stays, the second is reported", (t) => {
  const svc =
    "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: default}\nspec: {ports: [{port: 80}]}\n";
  const { resources, errors } = fromYaml(`${svc}---\n${svc}`);
  t.is(resources.length, 1);
  t.deepEqual(errors, [
    {
      file: "test.yaml",
      document: 1,
      object: "Service/default/s",
      message: "already defined in test.yaml; ignored",
    },
  ]);
});

test("metadata: timestamps are normalised, hostnames lower-cased, EndpointSlice nulls read as empty", (t) => {
  const { resources, errors } = fromYaml(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, creationTimestamp: "2024-05-01T10:00:00+02:00", generation: 7}
spec: {hostnames: [Shop.Example.COM]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s-1}
addressType: IPv4
ports: null
endpoints: null
---
apiVersion: v1
kind: Service
metadata: {name: bad-time, creationTimestamp: yesterday}
`);
  const [route, slice] = resources;
  t.is(route?.metadata.creationTimestamp, "2024-05-01T08:00:00.000Z");
  t.is(route?.metadata.generation, 7);
  t.deepEqual(route?.kind === "HTTPRoute" ? route.spec.hostnames : undefined, ["shop.example.com"]);
  t.deepEqual(slice?.kind === "EndpointSlice" ? [slice.spec.ports, slice.spec.endpoints] : undefined, [
    [],
    [],
  ]);
  t.is(errors[0]?.object, "Service/default/bad-time");
  t.regex(errors[0]?.message ?? "", /creationTimestamp: not a timestamp/);
});
