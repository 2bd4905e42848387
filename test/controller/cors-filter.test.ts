// The HTTPRoute CORS filter into the Snapshot, and the values refused: each makes its rule answer
// 500 and the route Accepted=False UnsupportedValue, naming the value.
import test from "ava";
import { gateway, httpRoute, listener, routeCondition, run, service } from "../support/controller-yaml.js";

const GW = gateway("gw", "[{name: web, protocol: HTTP, port: 8080}]");
const API = service("api", "[{port: 80}]");

function withCors(cors: string, where: "rule" | "backendRef" = "rule") {
  const filters = `[{type: CORS, cors: ${cors}}]`;
  const rule =
    where === "rule"
      ? `- filters: ${filters}\n  backendRefs: [{name: api, port: 80}]`
      : `- backendRefs: [{name: api, port: 80, filters: ${filters}}]`;
  const { snapshot, status } = run(`${GW}${API}${httpRoute("r", `parentRefs: [{name: gw}]\nrules:\n${rule}`)}`);
  return { action: listener(snapshot, "default/gw/web").actions[0], accepted: routeCondition(status, "r", "Accepted") };
}

test("a CORS filter reaches the action with origins lower-cased and the spec's defaults", (t) => {
  const { action, accepted } = withCors(
    "{allowOrigins: ['https://App.Example', 'https://*.example.com:8443', 'http://*'], allowMethods: [GET, PUT], allowHeaders: [x-a], exposeHeaders: [x-b], allowCredentials: true, maxAge: 60}",
  );
  t.is(accepted?.status, "True");
  t.deepEqual(action?.filters, [
    {
      type: "CORS",
      cors: {
        allowOrigins: ["https://app.example", "https://*.example.com:8443", "http://*"],
        allowMethods: ["GET", "PUT"],
        allowHeaders: ["x-a"],
        exposeHeaders: ["x-b"],
        allowCredentials: true,
        maxAgeSeconds: 60,
      },
    },
  ]);
  const defaults = withCors("{allowOrigins: ['*']}");
  t.deepEqual(defaults.action?.filters, [
    {
      type: "CORS",
      cors: { allowOrigins: ["*"], allowMethods: [], allowHeaders: [], exposeHeaders: [], allowCredentials: false, maxAgeSeconds: 5 },
    },
  ]);
  // "*" with credentials is the spec's case of echoing the origin, not a refusal.
  t.is(withCors("{allowOrigins: ['*'], allowMethods: ['*'], allowHeaders: ['*'], allowCredentials: true}").accepted?.status, "True");
});

test("CORS values meshgate refuses, each named in the route's status", (t) => {
  const cases: [string, RegExp][] = [
    ["{allowOrigins: ['example.com']}", /allowOrigins "example.com" is not "\*" or scheme:\/\/host\[:port\]/],
    ["{allowOrigins: ['ftp://example.com']}", /allowOrigins "ftp:\/\/example.com"/],
    ["{allowOrigins: ['https://example.com/path']}", /allowOrigins "https:\/\/example.com\/path"/],
    ["{allowOrigins: ['https://ex*ample.com']}", /allowOrigins "https:\/\/ex\*ample.com"/],
    ["{allowOrigins: ['https://*example.com']}", /allowOrigins "https:\/\/\*example.com"/],
    ["{allowOrigins: ['https://a.*.example.com']}", /allowOrigins "https:\/\/a.\*.example.com"/],
    ["{allowOrigins: ['https://example.com:0']}", /port 0 is not 1-65535/],
    ["{allowOrigins: ['https://example.com:70000']}", /port 70000 is not 1-65535/],
    ["{allowOrigins: ['null']}", /allowOrigins "null"/],
    ["{allowOrigins: ['*', 'https://a.example']}", /cannot contain "\*" alongside other origins/],
    ["{allowOrigins: ['*'], allowMethods: [get]}", /allowMethods "get" is not an HTTP method/],
    ["{allowOrigins: ['*'], allowMethods: [FETCH]}", /allowMethods "FETCH"/],
    ["{allowOrigins: ['*'], allowMethods: ['*', GET]}", /cannot contain "\*" alongside other methods/],
    ["{allowOrigins: ['*'], allowHeaders: ['x a']}", /allowHeaders "x a" is not an HTTP header name/],
    ["{allowOrigins: ['*'], exposeHeaders: ['x:y']}", /exposeHeaders "x:y" is not an HTTP header name/],
    ["{allowOrigins: ['*'], exposeHeaders: ['*'], allowCredentials: true}", /exposeHeaders "\*" cannot be used with allowCredentials/],
  ];
  for (const [cors, message] of cases) {
    const { action, accepted } = withCors(cors);
    t.is(accepted?.status, "False", cors);
    t.is(accepted?.reason, "UnsupportedValue", cors);
    t.regex(accepted?.message ?? "", /rule 0: filter CORS: /, cors);
    t.regex(accepted?.message ?? "", message, cors);
    // The rule answers 500 rather than serving without the CORS policy it asked for.
    t.deepEqual(action?.backends, [{ cluster: null, weight: 1, filters: [] }], cors);
  }
});

test("a CORS filter on a backendRef is refused: a preflight is answered before a backend is chosen", (t) => {
  const { action, accepted } = withCors("{allowOrigins: ['*']}", "backendRef");
  t.is(accepted?.status, "False");
  t.regex(accepted?.message ?? "", /backendRef 0: filter CORS is only supported on a rule, not on a backendRef/);
  t.is(action?.backends[0]?.cluster, null);
});
