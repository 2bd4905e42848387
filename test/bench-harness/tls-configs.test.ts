import test from "ava";
import { parseAllDocuments } from "yaml";
import { haproxyTcpConf, nginxProxyConf } from "../bench/harness-configs.js";
import { BENCH_HOST, meshgateTlsConfig, PASS_HOST, WRK_LOOPBACK_LUA } from "../bench/harness-tls-configs.js";

type Doc = Record<string, unknown> & { kind: string; metadata: { name: string } };

/** Every document of a multi-document YAML text, which must parse without errors. */
function docs(text: string): Doc[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length > 0) throw new Error(`YAML errors: ${d.errors.map((e) => e.message).join("; ")}`);
    return d.toJS() as Doc;
  });
}

const CHAIN = "-----BEGIN CERTIFICATE-----\nleaf\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n";
const HTTPS = { port: 8443, originPort: 8080, chainPem: CHAIN, keyPem: KEY };
const PASS = { port: 8443, originPort: 9443 };

function listeners(all: Doc[]): Record<string, unknown>[] {
  const gateway = all.find((d) => d.kind === "Gateway") as unknown as { spec: { listeners: Record<string, unknown>[] } };
  return gateway.spec.listeners;
}

test("the HTTPS config terminates bench.example.com with the Secret and routes / to the origin", (t) => {
  const all = docs(meshgateTlsConfig({ https: HTTPS }));
  t.deepEqual(
    all.map((d) => `${d.kind}/${d.metadata.name}`),
    [
      "GatewayClass/meshgate",
      "Gateway/bench",
      "Secret/bench-cert",
      "HTTPRoute/origin",
      "Service/origin",
      "EndpointSlice/origin-1",
    ],
  );
  t.deepEqual(listeners(all), [
    {
      name: "https",
      protocol: "HTTPS",
      port: 8443,
      hostname: BENCH_HOST,
      tls: { certificateRefs: [{ name: "bench-cert" }] },
    },
  ]);
  const secret = all.find((d) => d.kind === "Secret") as unknown as { type: string; data: Record<string, string> };
  t.is(secret.type, "kubernetes.io/tls");
  t.is(Buffer.from(secret.data["tls.crt"] ?? "", "base64").toString(), CHAIN);
  t.is(Buffer.from(secret.data["tls.key"] ?? "", "base64").toString(), KEY);
  const slice = all.find((d) => d.kind === "EndpointSlice") as unknown as {
    ports: { port: number }[];
    endpoints: { addresses: string[] }[];
  };
  t.is(slice.ports[0]?.port, 8080);
  t.deepEqual(slice.endpoints[0]?.addresses, ["127.0.0.1"]);
});

test("the passthrough config sends pass.example.com to the TLS origin with a TLSRoute", (t) => {
  const all = docs(meshgateTlsConfig({ passthrough: { port: 7443, originPort: 9443 } }));
  t.deepEqual(listeners(all), [
    { name: "tls", protocol: "TLS", port: 7443, hostname: PASS_HOST, tls: { mode: "Passthrough" } },
  ]);
  const route = all.find((d) => d.kind === "TLSRoute") as unknown as { apiVersion: string; spec: Record<string, unknown> };
  t.is(route.apiVersion, "gateway.networking.k8s.io/v1alpha2");
  t.deepEqual(route.spec, {
    parentRefs: [{ name: "bench", sectionName: "tls" }],
    hostnames: [PASS_HOST],
    rules: [{ backendRefs: [{ name: "tls-origin", port: 443 }] }],
  });
  const service = all.find((d) => d.kind === "Service") as unknown as { spec: { ports: unknown[] } };
  t.deepEqual(service.spec.ports, [{ name: "https", port: 443, targetPort: 9443 }]);
  t.false(all.some((d) => d.kind === "Secret" || d.kind === "HTTPRoute"));
});

test("the shared-port config has both listeners on one port, each route bound to its own", (t) => {
  const all = docs(meshgateTlsConfig({ https: HTTPS, passthrough: PASS }));
  t.deepEqual(
    listeners(all).map((l) => [l["name"], l["protocol"], l["port"], l["hostname"]]),
    [
      ["https", "HTTPS", 8443, BENCH_HOST],
      ["tls", "TLS", 8443, PASS_HOST],
    ],
  );
  const sections = all
    .filter((d) => d.kind === "HTTPRoute" || d.kind === "TLSRoute")
    .map((d) => (d as unknown as { spec: { parentRefs: { sectionName: string }[] } }).spec.parentRefs[0]?.sectionName);
  t.deepEqual(sections, ["https", "tls"]);
  t.deepEqual(
    all.filter((d) => d.kind === "Service").map((d) => d.metadata.name),
    ["origin", "tls-origin"],
  );
});

test("a Gateway without listeners is refused", (t) => {
  t.throws(() => meshgateTlsConfig({}), { message: /needs a listener/ });
});

test("nginx terminates TLS with the same files and proxies as it does for plain HTTP", (t) => {
  const tls = { serverName: BENCH_HOST, chainFile: "/w/bench.crt", keyFile: "/w/bench.key" };
  const plain = nginxProxyConf("/w/nginx", 8443, 8080);
  const withTls = nginxProxyConf("/w/nginx", 8443, 8080, tls);
  t.regex(withTls, /listen 127\.0\.0\.1:8443 ssl backlog=4096;/);
  t.regex(withTls, /ssl_certificate \/w\/bench\.crt;/);
  t.regex(withTls, /ssl_certificate_key \/w\/bench\.key;/);
  t.regex(withTls, /ssl_protocols TLSv1\.2 TLSv1\.3;/);
  t.regex(withTls, /server_name bench\.example\.com;/);
  t.notRegex(plain, /ssl/);
  // Everything but the listen block is the same proxying.
  const upstreamAndLocation = (conf: string) => conf.replace(/ {4}listen[\s\S]*?(?= {4}location)/, "");
  t.is(upstreamAndLocation(withTls), upstreamAndLocation(plain));
});

test("HAProxy forwards TCP to the TLS origin without looking at it", (t) => {
  const conf = haproxyTcpConf(7443, 9443, 65536);
  t.regex(conf, /^\s+mode tcp$/m);
  t.regex(conf, /bind 127\.0\.0\.1:7443\n/);
  t.regex(conf, /server tls_origin 127\.0\.0\.1:9443\n/);
  t.notRegex(conf, /mode http|ssl|sni/);
  t.regex(conf, /nbthread 1/);
});

test("the wrk script only replaces name resolution, so wrk keeps its static request path", (t) => {
  t.regex(WRK_LOOPBACK_LUA, /wrk\.resolve = function\(host, service\)/);
  t.regex(WRK_LOOPBACK_LUA, /wrk\.lookup\("127\.0\.0\.1", service\)/);
  t.notRegex(WRK_LOOPBACK_LUA, /^\s*(request|response|delay|done)\s*=|function (request|response)/m);
});
