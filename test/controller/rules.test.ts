// Route rules into the Snapshot: precedence across routes, matches, filters, weights, timeouts.
import test from "ava";
import {
  entryRoutes,
  gateway,
  httpRoute,
  listener,
  routeCondition,
  run,
  service,
} from "../support/controller-yaml.js";

const GW = gateway("gw", "[{name: web, protocol: HTTP, port: 8080}]");
const API = service("api", "[{port: 80}]");

function webOf(yaml: string) {
  const { snapshot, status } = run(`${GW}${yaml}`);
  return { web: listener(snapshot, "default/gw/web"), status, snapshot };
}

test("precedence across routes: exact, longest prefix, method, headers, query, then age, name; regex last", (t) => {
  const route = (name: string, created: string, match: string) =>
    httpRoute(name, `parentRefs: [{name: gw}]\nrules: [{matches: [${match}]}]`, { created });
  const newer = "2024-01-01T00:00:00Z";
  const { web } = webOf(`
${route("z-old", "2020-01-01T00:00:00Z", "{path: {type: PathPrefix, value: /a}}")}
${route("b-new", newer, "{path: {type: PathPrefix, value: /a}}")}
${route("a-new", newer, "{path: {type: PathPrefix, value: /a}}")}
${route("longer", newer, "{path: {type: PathPrefix, value: /a/b}}")}
${route("exact", newer, "{path: {type: Exact, value: /a}}")}
${route("method", newer, "{path: {type: PathPrefix, value: /a}, method: POST}")}
${route("headers", newer, "{path: {type: PathPrefix, value: /a}, headers: [{name: X-A, value: '1'}, {name: x-b, value: '2'}]}")}
${route("header", newer, "{path: {type: PathPrefix, value: /a}, headers: [{name: x-a, value: '1'}], queryParams: [{name: q, value: '1'}, {name: r, value: '2'}]}")}
${route("query", newer, "{path: {type: PathPrefix, value: /a}, queryParams: [{name: q, value: '1'}]}")}
${route("regex", "2019-01-01T00:00:00Z", "{path: {type: RegularExpression, value: '/a.*'}}")}
${route("root", "2019-01-01T00:00:00Z", "{path: {type: PathPrefix, value: /}}")}
`);
  t.deepEqual(entryRoutes(web), [
    "default/exact",
    "default/longer",
    "default/method",
    "default/headers",
    "default/header",
    "default/query",
    "default/z-old",
    "default/a-new",
    "default/b-new",
    "default/root",
    "default/regex",
  ]);
  const headers = web.entries[3]?.match.headers;
  t.deepEqual(
    headers?.map((h) => [h.name, h.type]),
    [
      ["x-a", "Exact"],
      ["x-b", "Exact"],
    ],
  );
});

test("ties within a route go to rule order, then match order", (t) => {
  const { web } = webOf(
    httpRoute(
      "r",
      `parentRefs: [{name: gw}]
rules:
- name: first
  matches: [{path: {value: /x}}, {path: {value: /y}}]
- name: second
  matches: [{path: {value: /y}}, {path: {value: /x}}]`,
    ),
  );
  t.deepEqual(
    web.entries.map((e) => `${web.actions[e.action]?.rule}:${e.match.path.value}`),
    ["first:/x", "first:/y", "second:/y", "second:/x"],
  );
});

test("matches: defaults, methods, header names lower-cased, repeated names keep the first, regex kept", (t) => {
  const { web } = webOf(
    httpRoute(
      "r",
      `parentRefs: [{name: gw}]
rules:
- backendRefs: []
- matches:
  - method: DELETE
    headers: [{name: X-Env, value: prod}, {name: x-env, value: dev}, {type: RegularExpression, name: X-Id, value: "[0-9]+"}]
    queryParams: [{name: Page, value: "2"}, {name: Page, value: "3"}]`,
    ),
  );
  const matches = web.entries.map((e) => e.match);
  t.deepEqual(matches, [
    {
      path: { type: "PathPrefix", value: "/" },
      method: "DELETE",
      headers: [
        { type: "Exact", name: "x-env", value: "prod" },
        { type: "RegularExpression", name: "x-id", value: "[0-9]+" },
      ],
      queryParams: [{ type: "Exact", name: "Page", value: "2" }],
    },
    { path: { type: "PathPrefix", value: "/" }, headers: [], queryParams: [] },
  ]);
  t.deepEqual(web.actions[0]?.backends, []);
});

test("filters map into the rule's action; redirects and rewrites keep their settings", (t) => {
  const { web, status } = webOf(
    `${API}${httpRoute(
      "r",
      `parentRefs: [{name: gw}]
rules:
- matches: [{path: {type: PathPrefix, value: /old}}]
  filters:
  - type: RequestRedirect
    requestRedirect: {scheme: https, hostname: New.Example, port: 8443, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}, statusCode: 301}
- matches: [{path: {type: Exact, value: /moved}}]
  filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /}}}]
- name: api
  matches: [{path: {type: PathPrefix, value: /api}}]
  filters:
  - type: RequestHeaderModifier
    requestHeaderModifier: {set: [{name: X-Env, value: prod}], add: [{name: x-tag, value: a}], remove: [x-debug]}
  - type: ResponseHeaderModifier
    responseHeaderModifier: {remove: [server]}
  - type: URLRewrite
    urlRewrite: {hostname: internal.example, path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}
  backendRefs:
  - name: api
    port: 80
    filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: x-served-by, value: api}]}}]`,
    )}`,
  );
  const action = (rule: string) => web.actions.find((a) => a.rule === rule);
  t.deepEqual(action("0")?.filters, [
    {
      type: "RequestRedirect",
      requestRedirect: {
        scheme: "https",
        hostname: "new.example",
        port: 8443,
        path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/new" },
        statusCode: 301,
      },
    },
  ]);
  t.deepEqual(action("1")?.filters[0], {
    type: "RequestRedirect",
    requestRedirect: { path: { type: "ReplaceFullPath", replaceFullPath: "/" }, statusCode: 302 },
  });
  t.deepEqual(action("1")?.backends, []);
  t.deepEqual(action("api")?.filters, [
    {
      type: "RequestHeaderModifier",
      requestHeaderModifier: {
        set: [{ name: "X-Env", value: "prod" }],
        add: [{ name: "x-tag", value: "a" }],
        remove: ["x-debug"],
      },
    },
    { type: "ResponseHeaderModifier", responseHeaderModifier: { set: [], add: [], remove: ["server"] } },
    {
      type: "URLRewrite",
      urlRewrite: {
        hostname: "internal.example",
        path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/v2" },
      },
    },
  ]);
  t.deepEqual(action("api")?.backends, [
    {
      cluster: "default/api:80",
      weight: 1,
      filters: [
        {
          type: "ResponseHeaderModifier",
          responseHeaderModifier: { set: [], add: [{ name: "x-served-by", value: "api" }], remove: [] },
        },
      ],
    },
  ]);
  t.is(routeCondition(status, "r", "Accepted")?.reason, "Accepted");
});

test("weights: default 1, 0 kept (no traffic), all zero kept as is for the data plane to answer 500", (t) => {
  const { web } = webOf(
    `${API}${service("canary", "[{port: 80}]")}${httpRoute(
      "r",
      `parentRefs: [{name: gw}]
rules:
- matches: [{path: {value: /split}}]
  backendRefs: [{name: api, port: 80, weight: 90}, {name: canary, port: 80, weight: 10}]
- matches: [{path: {value: /default}}]
  backendRefs: [{name: api, port: 80}, {name: canary, port: 80, weight: 0}]
- matches: [{path: {value: /none}}]
  backendRefs: [{name: api, port: 80, weight: 0}]`,
    )}`,
  );
  const weights = web.actions.map((a) => a.backends.map((b) => `${b.cluster}=${b.weight}`));
  t.deepEqual(weights, [
    ["default/api:80=90", "default/canary:80=10"],
    ["default/api:80=1", "default/canary:80=0"],
    ["default/api:80=0"],
  ]);
});

test("timeouts: Gateway API durations in milliseconds, 0 kept (no timeout)", (t) => {
  const { web } = webOf(
    `${API}${httpRoute(
      "r",
      `parentRefs: [{name: gw}]
rules:
- matches: [{path: {value: /a}}]
  timeouts: {request: 1h30m, backendRequest: 500ms}
  backendRefs: [{name: api, port: 80}]
- matches: [{path: {value: /b}}]
  timeouts: {request: 10s}
  backendRefs: [{name: api, port: 80}]
- matches: [{path: {value: /c}}]
  timeouts: {request: 0s, backendRequest: 1m}
  backendRefs: [{name: api, port: 80}]`,
    )}`,
  );
  t.deepEqual(
    web.actions.map((a) => a.timeouts),
    [
      { requestMs: 5_400_000, backendRequestMs: 500 },
      { requestMs: 10_000 },
      { requestMs: 0, backendRequestMs: 60_000 },
    ],
  );
});

test("values meshgate cannot implement: the rule answers 500 and the route says UnsupportedValue", (t) => {
  const cases: [string, RegExp][] = [
    [
      "backendRefs: [{name: api, port: 80, filters: [{type: RequestMirror, requestMirror: {backendRef: {name: api, port: 80}}}]}]",
      /rule 0 backendRef 0: filter RequestMirror is only supported on a rule/,
    ],
    [
      "filters: [{type: ExtensionRef, extensionRef: {group: x, kind: y, name: z}}]",
      /filter ExtensionRef is not supported/,
    ],
    ["filters: [{type: RequestRedirect, requestRedirect: {statusCode: 305}}]", /statusCode 305/],
    ["filters: [{type: RequestRedirect, requestRedirect: {scheme: ftp}}]", /scheme ftp/],
    ["filters: [{type: RequestHeaderModifier}]", /RequestHeaderModifier is missing its settings/],
    [
      "filters: [{type: RequestHeaderModifier, requestHeaderModifier: {}}, {type: RequestHeaderModifier, requestHeaderModifier: {}}]",
      /appears more than once/,
    ],
    ["timeouts: {request: soon}", /timeouts.request "soon" is not a duration/],
    ["timeouts: {request: 1.5s}", /is not a duration/],
    ["timeouts: {request: 1s, backendRequest: 2s}", /backendRequest is longer than timeouts.request/],
    ["matches: [{path: {type: RegularExpression, value: '/(unclosed'}}]", /not a valid regular expression/],
    [
      "matches: [{path: {type: Exact, value: /x}}]\n  filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]",
      /needs exactly one PathPrefix match/,
    ],
    [
      "backendRefs: [{name: api, port: 80, filters: [{type: CORS, cors: {}}]}]",
      /rule 0 backendRef 0: filter CORS is only supported on a rule, not on a backendRef/,
    ],
  ];
  for (const [rule, message] of cases) {
    const { web, status } = webOf(
      `${API}${httpRoute(
        "r",
        `parentRefs: [{name: gw}]
rules:
- ${rule}
- matches: [{path: {type: Exact, value: /fine}}]
  backendRefs: [{name: api, port: 80}]`,
      )}`,
    );
    const c = routeCondition(status, "r", "Accepted");
    t.is(c?.status, "False", rule);
    t.is(c?.reason, "UnsupportedValue", rule);
    t.regex(c?.message ?? "", message, rule);
    const broken = web.actions.find((a) => a.rule === "0");
    t.deepEqual(broken?.backends, [{ cluster: null, weight: 1, filters: [] }], rule);
    t.deepEqual(broken?.filters, [], rule);
    // The route's other rules still serve.
    t.is(web.actions.find((a) => a.rule === "1")?.backends[0]?.cluster, "default/api:80", rule);
  }
});

test("a route with no rules gets the CRD's default: everything, answered 500", (t) => {
  const { web } = webOf(httpRoute("bare", "parentRefs: [{name: gw}]"));
  t.deepEqual(
    web.entries.map((e) => e.match.path),
    [{ type: "PathPrefix", value: "/" }],
  );
  t.deepEqual(web.actions[0]?.backends, []);
});
