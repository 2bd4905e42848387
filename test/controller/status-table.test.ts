// `meshgate status` as a person reads it.
import test from "ava";
import { formatStatusTable } from "../../controller/status/report.js";
import { translate } from "../../controller/translate/index.js";
import { fromYaml, GATEWAY_CLASS, gateway, httpRoute, service } from "../support/controller-yaml.js";

function report(yaml: string) {
  const { resources, errors } = fromYaml(yaml, "gateway.yaml");
  return translate(resources, { version: 1, loadErrors: errors }).status;
}

const CONFIG = `${GATEWAY_CLASS}${gateway(
  "edge",
  "[{name: http, protocol: HTTP, port: 8080}, {name: dup, protocol: HTTP, port: 8080}, {name: tls, protocol: HTTPS, port: 8443}]",
)}
${httpRoute("demo", "parentRefs: [{name: edge, sectionName: http}]\nhostnames: [demo.example, www.demo.example]\nrules: [{backendRefs: [{name: demo, port: 80}]}]")}
${httpRoute("lost", "parentRefs: [{name: edge, sectionName: http}]\nrules: [{backendRefs: [{name: ghost, port: 80}]}]")}
${service("demo", "[{name: http, port: 80}]")}
---
apiVersion: meshgate.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: broken}
spec: {targetRefs: [{kind: Gateway, name: edge}], loadBalancer: {type: Fastest}}
---
apiVersion: v1
kind: Service
metadata: {}
`;

test("one section per kind, a row per object, problems spelled out with reason and message", (t) => {
  const text = formatStatusTable(report(CONFIG));
  const lines = text.split("\n");
  const row = (pattern: RegExp) => lines.find((l) => pattern.test(l));
  t.truthy(row(/^GATEWAYCLASS\s+CONTROLLER\s+ACCEPTED\s+REASON$/));
  t.truthy(row(/^meshgate\s+meshgate\.io\/gateway-controller\s+True$/));
  t.truthy(row(/^GATEWAY\s+CLASS\s+ADDRESS\s+ACCEPTED\s+PROGRAMMED\s+REASON$/));
  t.truthy(row(/^default\/edge\s+meshgate\s+0\.0\.0\.0\s+True\s+True$/));
  t.truthy(row(/^LISTENER\s+PORT\s+PROTOCOL\s+HOSTNAME\s+ATTACHED\s+ACCEPTED\s+PROGRAMMED\s+REASON$/));
  t.truthy(row(/^default\/edge\/http\s+8080\s+HTTP\s+\*\s+2\s+True\s+True$/));
  t.truthy(
    row(
      /^default\/edge\/dup\s+8080\s+HTTP\s+\*\s+0\s+False\s+False\s+HostnameConflict: listener default\/edge\/http already serves port 8080 for every hostname$/,
    ),
  );
  t.truthy(
    row(
      /^default\/edge\/tls\s+8443\s+HTTPS\s+\*\s+0\s+True\s+False\s+InvalidCertificateRef: an HTTPS listener needs tls\.certificateRefs \(or an AcmeCertificatePolicy\)$/,
    ),
  );
  t.truthy(row(/^HTTPROUTE\s+HOSTNAMES\s+PARENT\s+ACCEPTED\s+RESOLVEDREFS\s+REASON$/));
  t.truthy(row(/^default\/demo\s+demo\.example,www\.demo\.example\s+default\/edge\/http\s+True\s+True$/));
  t.truthy(
    row(
      /^default\/lost\s+\*\s+default\/edge\/http\s+True\s+False\s+BackendNotFound: Service default\/ghost not found$/,
    ),
  );
  t.truthy(row(/^BackendTrafficPolicy\/default\/broken\s+False\s+Invalid: spec\.loadBalancer\.type: /));
  t.truthy(row(/^FILE\s+DOC\s+OBJECT\s+ERROR$/));
  t.truthy(row(/^gateway\.yaml\s+6\s+Service\s+metadata\.name: required$/));
  t.false(text.includes("REFUSED"));
});

test("a refused Snapshot leads the table with its reasons", (t) => {
  const status = { ...report(CONFIG), refused: ["ports.0: port 0.0.0.0:8080 appears twice"] };
  const text = formatStatusTable(status);
  t.true(
    text.startsWith(
      "REFUSED (the last good configuration keeps serving):\n  ports.0: port 0.0.0.0:8080 appears twice\n\nGATEWAYCLASS",
    ),
  );
});

test("the report is plain JSON", (t) => {
  const status = report(CONFIG);
  t.deepEqual(JSON.parse(JSON.stringify(status)), status);
  t.deepEqual(Object.keys(status).sort(), [
    "gatewayClasses",
    "gateways",
    "httpRoutes",
    "loadErrors",
    "policies",
    "tlsRoutes",
  ]);
});
