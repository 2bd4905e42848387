// Path normalisation against a normalising origin: a PathPrefix /admin rule that denies must not
// be dodged by another spelling of /admin that the origin resolves to /admin. Every spelling in
// the table is sent as raw bytes to a gateway per escapedSlashesAction and mergeSlashes setting,
// in front of a real nginx whose locations say how nginx resolved the path ($uri, decoded, dot
// segments removed, slashes merged) and what it was sent ($request_uri).
import { isUtf8 } from "node:buffer";
import test, { type ExecutionContext } from "ava";
import { DataPlane } from "../../gateway/data-plane.js";
import type { EscapedSlashesAction } from "../../gateway/http/path-normalize.js";
import type { PortInput } from "../../gateway/snapshot.js";
import { freePort } from "../support/net.js";
import { type RunningNginx, startNginx } from "../support/nginx.js";
import { rawExchange, responseHeader } from "../support/raw-http.js";
import { cluster, snapshot } from "../support/snapshot.js";

const ACTIONS: readonly EscapedSlashesAction[] = ["KeepUnchanged", "RejectRequest", "UnescapeAndForward", "UnescapeAndRedirect"];
const MERGE = [true, false] as const;

interface Setting {
  action: EscapedSlashesAction;
  mergeSlashes: boolean;
}
const SETTINGS: readonly Setting[] = MERGE.flatMap((mergeSlashes) => ACTIONS.map((action) => ({ action, mergeSlashes })));

// ---- the table: what each spelling should come to -------------------------------------------

/** denied: the /admin rule's 302 to /denied. origin: nginx answered 200 and was sent `forwarded`
 * (its $request_uri). originRefused: forwarded, and nginx answered its own error page. rejected: meshgate's 400. redirect: meshgate's 307 to `location`, and asking
 * for that is `then`. */
type Expected =
  | { kind: "denied" }
  | { kind: "origin"; forwarded: string }
  | { kind: "originRefused"; status: number }
  | { kind: "rejected" }
  | { kind: "redirect"; location: string; then: Expected };

const denied: Expected = { kind: "denied" };
const rejected: Expected = { kind: "rejected" };
const origin = (forwarded: string): Expected => ({ kind: "origin", forwarded });
const originRefused = (status: number): Expected => ({ kind: "originRefused", status });
const redirect = (location: string, then: Expected): Expected => ({ kind: "redirect", location, then });

/** An encoded slash: the outcome per escapedSlashesAction; mergeSlashes makes no difference here. */
const perAction =
  (outcomes: Record<EscapedSlashesAction, Expected>) =>
  (s: Setting): Expected =>
    outcomes[s.action];
const always = (e: Expected) => (): Expected => e;

/** An encoded slash inside /admin: never a way around the rule, whatever the action. */
const encodedSlashInAdmin = perAction({
  KeepUnchanged: denied,
  RejectRequest: rejected,
  UnescapeAndForward: denied,
  UnescapeAndRedirect: redirect("/admin/x", denied),
});

/** An encoded slash that, decoded, leaves /admin. */
const encodedSlashBeforeAdmin = perAction({
  KeepUnchanged: denied,
  RejectRequest: rejected,
  UnescapeAndForward: denied,
  UnescapeAndRedirect: redirect("/admin", denied),
});
/**
 * "/%2fadmin" without merging: forwarded as "//admin" (or kept encoded), but matched merged, so
 * the deny rule takes it; a redirect to "//admin" would leave the site, so that one is refused.
 */
const encodedSlashBeforeAdminUnmerged = perAction({
  KeepUnchanged: denied,
  RejectRequest: rejected,
  UnescapeAndForward: denied,
  UnescapeAndRedirect: rejected,
});

interface Row {
  /** Sent as the request target's bytes (UTF-8), unless `bytes` are given; printed as is. */
  spelling: string;
  bytes?: Buffer;
  expect: (s: Setting) => Expected;
}

const ROWS: readonly Row[] = [
  { spelling: "/admin", expect: always(denied) },
  { spelling: "/admin/x", expect: always(denied) },
  { spelling: "/adminx", expect: always(origin("/adminx")) },
  { spelling: "/./admin", expect: always(denied) },
  // mergeSlashes off: "//admin" is forwarded as such, but matched merged, as nginx serves it.
  { spelling: "//admin", expect: always(denied) },
  // The same through an encoded slash: nginx decodes %2F, then merges.
  {
    spelling: "/%2fadmin",
    expect: (s) => (s.mergeSlashes ? encodedSlashBeforeAdmin : encodedSlashBeforeAdminUnmerged)(s),
  },
  { spelling: "/x/../admin", expect: always(denied) },
  { spelling: "/x/%2e%2e/admin", expect: always(denied) },
  { spelling: "/x/%2E%2E/admin", expect: always(denied) },
  { spelling: "/x/..%2fadmin", expect: encodedSlashBeforeAdmin },
  { spelling: "/%61dmin", expect: always(denied) },
  { spelling: "/%2561dmin", expect: always(origin("/%2561dmin")) },
  { spelling: "/admin%2fx", expect: encodedSlashInAdmin },
  { spelling: "/admin%2Fx", expect: encodedSlashInAdmin },
  { spelling: "/admin%5cx", expect: encodedSlashInAdmin },
  { spelling: "/admin/./x", expect: always(denied) },
  { spelling: "/public/%2e%2e/admin/x", expect: always(denied) },
  { spelling: "/.%2e/admin", expect: always(denied) },
  { spelling: "/%2e/admin", expect: always(denied) },
  // Path parameters are nothing to nginx (Tomcat would drop ";x" and serve /admin).
  { spelling: "/admin;x", expect: always(origin("/admin;x")) },
  { spelling: "/x/..;/admin", expect: always(origin("/x/..;/admin")) },
  { spelling: "/ADMIN", expect: always(origin("/ADMIN")) },
  { spelling: "/admin%00", expect: always(originRefused(400)) },
  { spelling: "/admin%ff", expect: always(origin("/admin%FF")) },
  { spelling: "/admin\\xff", bytes: Buffer.from("/admin\xff", "latin1"), expect: always(rejected) },
  { spelling: "/a\\b", expect: always(rejected) },
  { spelling: "/admin#x", expect: always(rejected) },
  { spelling: "/caf\u00e9", expect: always(origin("/caf%C3%A9")) },
];

// ---- the parts: nginx as origin, one gateway port per setting --------------------------------

// Each location names itself and echoes nginx's reading of the path; one field per line.
const reveal = (location: string) => `return 200 "location=${location}\\nuri=$uri\\nraw=$request_uri\\n";`;
const originServer = (port: number) => `  default_type text/plain;
  server {
    listen 127.0.0.1:${port};
    merge_slashes on;
    location /admin/ { ${reveal("admin")} }
    location = /admin { ${reveal("admin")} }
    location / { ${reveal("public")} }
  }`;

function gatewayPort(port: number, setting: Setting): PortInput {
  return {
    port,
    address: "127.0.0.1",
    protocol: "HTTP",
    client: { escapedSlashes: setting.action, mergeSlashes: setting.mergeSlashes },
    listeners: [
      {
        name: "default/gw/http",
        gateway: "default/gw",
        // Gateway API precedence: the longer prefix first.
        entries: [
          { hostnames: [], match: { path: { type: "PathPrefix", value: "/admin" } }, action: 0 },
          { hostnames: [], match: { path: { type: "PathPrefix", value: "/" } }, action: 1 },
        ],
        actions: [
          {
            route: "default/deny-admin",
            rule: "0",
            backends: [],
            filters: [
              {
                type: "RequestRedirect",
                requestRedirect: { path: { type: "ReplaceFullPath", replaceFullPath: "/denied" }, statusCode: 302 },
              },
            ],
          },
          { route: "default/origin", rule: "0", backends: [{ cluster: "nginx", weight: 1 }] },
        ],
      },
    ],
  };
}

let nginx: RunningNginx | undefined;
const plane = new DataPlane();
const ports = new Map<Setting, number>();

test.before(async () => {
  nginx = await startNginx(originServer);
  for (const setting of SETTINGS) ports.set(setting, await freePort());
  const result = await plane.apply(
    snapshot({
      version: 1,
      ports: SETTINGS.map((s) => gatewayPort(ports.get(s) ?? 0, s)),
      clusters: [cluster("nginx", [nginx.port])],
    }),
  );
  if (result.portErrors.length > 0) throw new Error(JSON.stringify(result.portErrors));
});

test.after.always(async () => {
  await plane.drain(1000);
  await nginx?.stop();
});

// ---- one request, observed -------------------------------------------------------------------

interface Observed {
  /** meshgate's status; 0: no answer. */
  status: number;
  route: "denied" | "origin" | "rejected" | "redirect" | "other";
  location?: string;
  /** What nginx received ($request_uri) and how it resolved it ($uri), when it answered. */
  nginxLocation?: string;
  forwarded?: string;
  nginxUri?: string;
  /** For a 307: asking for its Location. */
  followed?: Observed;
  body: string;
}

/** UTF-8 text as such; bytes that are not UTF-8 (nginx's $uri after decoding %FF) as \\xNN. */
function printable(bytes: Buffer): string {
  if (isUtf8(bytes)) return bytes.toString("utf8");
  return [...bytes].map((b) => (b < 0x80 ? String.fromCharCode(b) : `\\x${b.toString(16)}`)).join("");
}

async function send(port: number, target: Buffer, follow = true): Promise<Observed> {
  const request = Buffer.concat([
    Buffer.from("GET "),
    target,
    Buffer.from(" HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n"),
  ]);
  const { responses } = await rawExchange(port, [request], ["GET"]);
  const res = responses[0];
  if (res === undefined) return { status: 0, route: "other", body: "" };
  const body = printable(res.body);
  const location = responseHeader(res, "location")?.toString("latin1");
  const fields = new Map(
    body
      .split("\n")
      .filter((line) => line.includes("="))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)] as const),
  );
  const seen: Observed = { status: res.status, route: "other", body };
  if (fields.has("location")) {
    return {
      ...seen,
      route: "origin",
      nginxLocation: fields.get("location"),
      forwarded: fields.get("raw"),
      nginxUri: fields.get("uri"),
    };
  }
  if (/<center>nginx[^<]*<\/center>/.test(body)) return { ...seen, route: "origin", nginxLocation: "error page" };
  if (res.status === 302 && location !== undefined && new URL(location, "http://edge.test").pathname === "/denied") {
    return { ...seen, route: "denied", location };
  }
  if (res.status === 307 && location !== undefined) {
    const path = new URL(location, "http://edge.test");
    const followed = follow ? await send(port, Buffer.from(path.pathname + path.search, "latin1"), false) : undefined;
    return { ...seen, route: "redirect", location: path.pathname + path.search, followed };
  }
  if (res.status === 400 && body.startsWith("bad request")) return { ...seen, route: "rejected" };
  return seen;
}

// ---- what is asserted and printed -------------------------------------------------------------

/** nginx served it from a location meant for /admin: the request got past the deny rule. */
const bypassed = (o: Observed): boolean =>
  o.route === "origin" && (o.nginxLocation === "admin" || o.nginxUri === "/admin" || (o.nginxUri ?? "").startsWith("/admin/"));

function matches(o: Observed, e: Expected): boolean {
  switch (e.kind) {
    case "denied":
      return o.route === "denied" && o.status === 302;
    case "rejected":
      return o.route === "rejected" && o.status === 400;
    case "origin":
      return o.route === "origin" && o.status === 200 && o.forwarded === e.forwarded;
    case "originRefused":
      return o.route === "origin" && o.nginxLocation === "error page" && o.status === e.status;
    case "redirect":
      return o.route === "redirect" && o.status === 307 && o.location === e.location && o.followed !== undefined && matches(o.followed, e.then);
  }
}

function routeText(o: Observed): string {
  if (o.route === "redirect") return `307 -> ${o.location ?? "?"} -> ${o.followed === undefined ? "?" : routeText(o.followed)}`;
  if (o.route === "origin") return `origin (nginx ${o.nginxLocation ?? "?"})${bypassed(o) ? "  BYPASS" : ""}`;
  if (o.route === "other") return `other: ${JSON.stringify(o.body.slice(0, 60))}`;
  return o.route;
}

/** The row's outcome without the setting: equal texts are printed once for the settings sharing it. */
function outcomeText(o: Observed): string {
  const shown = o.route === "redirect" ? o.followed : o;
  return [
    String(o.status),
    routeText(o),
    shown?.route === "origin" ? (shown.forwarded ?? "?") : "-",
    shown?.route === "origin" ? (shown.nginxUri ?? "?") : "-",
  ].join("\t");
}

const mergeText = (m: boolean) => (m ? "merge" : "no-merge");

/** One line per distinct outcome of a spelling, naming the settings it holds for ("*": all). */
function rowLines(spelling: string, outcomes: Map<Setting, string>): string[][] {
  const text = (s: Setting) => outcomes.get(s) ?? "";
  const first = SETTINGS[0];
  if (first === undefined) return [];
  if (SETTINGS.every((s) => text(s) === text(first))) return [[spelling, "*", "*", ...text(first).split("\t")]];
  const actionOnly = ACTIONS.every((a) => MERGE.every((m) => text(setting(a, m)) === text(setting(a, true))));
  if (actionOnly) return ACTIONS.map((a) => [spelling, a, "*", ...text(setting(a, true)).split("\t")]);
  const mergeOnly = MERGE.every((m) => ACTIONS.every((a) => text(setting(a, m)) === text(setting("KeepUnchanged", m))));
  if (mergeOnly) return MERGE.map((m) => [spelling, "*", mergeText(m), ...text(setting("KeepUnchanged", m)).split("\t")]);
  return SETTINGS.map((s) => [spelling, s.action, mergeText(s.mergeSlashes), ...text(s).split("\t")]);
}

function setting(action: EscapedSlashesAction, mergeSlashes: boolean): Setting {
  const found = SETTINGS.find((s) => s.action === action && s.mergeSlashes === mergeSlashes);
  if (found === undefined) throw new Error("no such setting");
  return found;
}

function logTable(t: ExecutionContext, lines: string[][]): void {
  const header = ["spelling", "escapedSlashes", "slashes", "status", "route", "forwarded", "nginx $uri"];
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((cells) => (cells[i] ?? "").length)));
  for (const cells of all) t.log(cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd());
}

test("no spelling of /admin reaches nginx's /admin past the gateway's deny rule", async (t) => {
  const lines: string[][] = [];
  const bypasses: string[] = [];
  for (const row of ROWS) {
    const target = row.bytes ?? Buffer.from(row.spelling, "utf8");
    const observed = await Promise.all(SETTINGS.map((s) => send(ports.get(s) ?? 0, target)));
    const outcomes = new Map<Setting, string>();
    SETTINGS.forEach((s, i) => {
      const o = observed[i];
      if (o === undefined) return;
      outcomes.set(s, outcomeText(o));
      const label = `${JSON.stringify(row.spelling)} ${s.action} ${mergeText(s.mergeSlashes)}: ${outcomeText(o).replaceAll("\t", " | ")}`;
      const isBypass = bypassed(o) || (o.followed !== undefined && bypassed(o.followed));
      if (isBypass) bypasses.push(label);
      t.false(isBypass, `bypass: ${label}`);
      const expected = row.expect(s);
      t.true(matches(o, expected), `${label}; expected ${JSON.stringify(expected)}`);
    });
    lines.push(...rowLines(row.spelling, outcomes));
  }
  logTable(t, lines);
  for (const b of bypasses) t.log(`BYPASS ${b}`);
});
