// The CORS filter through a real gateway (a DataPlane on a real port) and a real backend: the
// cartesian product of origin patterns, allowMethods, allowCredentials, request origin, requested
// method and request kind. What a client receives is checked against the spec's rules, and what a
// browser would decide (the fetch spec's CORS check) is printed as the origin x outcome table.
import test from "ava";
import { Agent, request } from "undici";
import { DataPlane } from "../../gateway/data-plane.js";
import type { CorsConfig, PortInput } from "../../gateway/snapshot.js";
import { startBackend } from "../support/backend.js";
import { freePort } from "../support/net.js";
import { cluster, simplePort, snapshot } from "../support/snapshot.js";

const client = new Agent({ keepAliveTimeout: 10_000 });
test.after.always(() => client.close());

/** Request origins, and whether the listed patterns allow each (written out, not computed). */
const ORIGINS: { origin: string; listed: boolean; why: string }[] = [
  { origin: "https://app.example.com", listed: true, why: "exact" },
  { origin: "https://APP.Example.com", listed: true, why: "exact, other case" },
  { origin: "https://app.example.com:443", listed: true, why: "exact, default port written" },
  { origin: "http://app.example.com", listed: false, why: "scheme mismatch" },
  { origin: "https://app.example.com:8443", listed: false, why: "port mismatch" },
  { origin: "https://a.b.example.com", listed: true, why: "wildcard, two labels" },
  { origin: "https://example.com", listed: false, why: "wildcard needs a label" },
  { origin: "https://evil-example.com", listed: false, why: "suffix trick" },
  { origin: "https://example.com.evil.net", listed: false, why: "prefix trick" },
  { origin: "http://localhost:8080", listed: true, why: "exact with port" },
  { origin: "http://localhost", listed: false, why: "port missing" },
  { origin: "null", listed: false, why: "opaque origin" },
];
const LISTED = ["https://app.example.com", "https://*.example.com", "http://localhost:8080"];

interface RouteConfig {
  origins: "listed" | "*";
  methods: "listed" | "*";
  credentials: boolean;
}
const CONFIGS: RouteConfig[] = [];
for (const origins of ["listed", "*"] as const)
  for (const methods of ["listed", "*"] as const)
    for (const credentials of [false, true]) CONFIGS.push({ origins, methods, credentials });

const label = (c: RouteConfig) => `${c.origins === "*" ? "o*" : "oL"}/${c.methods === "*" ? "m*" : "mL"}/${c.credentials ? "cred" : "anon"}`;

function corsOf(c: RouteConfig): CorsConfig {
  return {
    allowOrigins: c.origins === "*" ? ["*"] : LISTED,
    allowMethods: c.methods === "*" ? ["*"] : ["GET", "PUT"],
    allowHeaders: c.methods === "*" ? ["*"] : ["x-a", "x-b"],
    exposeHeaders: ["x-expose"],
    allowCredentials: c.credentials,
    maxAgeSeconds: 600,
  };
}

interface Measured {
  status: number;
  headers: Record<string, string | undefined>;
}

async function send(port: number, path: string, method: string, headers: Record<string, string>): Promise<Measured> {
  const res = await request(`http://127.0.0.1:${port}${path}`, { method, headers: { host: "api.example.net", ...headers }, dispatcher: client });
  await res.body.dump();
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(res.headers)) out[name] = Array.isArray(value) ? value.join(", ") : value;
  return { status: res.statusCode, headers: out };
}

/** The fetch spec's CORS check, as a browser runs it on what it received. */
function browserAllows(m: Measured, origin: string, credentials: boolean, method?: string, requestHeaders?: string[]): boolean {
  const acao = m.headers["access-control-allow-origin"];
  if (acao === undefined) return false;
  if (credentials ? acao !== origin : acao !== "*" && acao !== origin) return false;
  if (credentials && m.headers["access-control-allow-credentials"] !== "true") return false;
  if (method === undefined) return true;
  // Preflight: an ok status, the method allowed (or safelisted), every requested header allowed.
  if (m.status < 200 || m.status > 299) return false;
  const list = (v: string | undefined) => (v ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  const methods = list(m.headers["access-control-allow-methods"]);
  const methodOk = ["GET", "HEAD", "POST"].includes(method) || methods.includes(method) || (!credentials && methods.includes("*"));
  const allowed = list(m.headers["access-control-allow-headers"]).map((h) => h.toLowerCase());
  const headersOk = (requestHeaders ?? []).every((h) => allowed.includes(h.toLowerCase()) || (!credentials && allowed.includes("*")));
  return methodOk && headersOk;
}

test("CORS table: preflights answered by the gateway, actual responses carry what the origin is due", async (t) => {
  const backend = await startBackend("app");
  backend.behave((_req, res) => {
    // A backend with CORS headers of its own: the gateway's filter decides over them.
    res.writeHead(200, { "access-control-allow-origin": "https://backend.example", "x-expose": "1" });
    res.end("ok");
  });
  const port = await freePort();
  const p: PortInput = simplePort(port, CONFIGS.map((_, i) => ({ prefix: `/r${i}`, backends: [{ cluster: "app" }] })));
  CONFIGS.forEach((c, i) => {
    const action = p.listeners?.[0]?.actions?.[i];
    if (action === undefined) throw new Error("simplePort changed shape");
    action.filters = [{ type: "CORS", cors: corsOf(c) }];
  });
  const plane = new DataPlane();
  try {
    const applied = await plane.apply(snapshot({ version: 1, ports: [p], clusters: [cluster("app", [backend.port])] }));
    t.deepEqual(applied.portErrors, []);
    const table: string[][] = [];
    let preflights = 0;
    for (const o of ORIGINS) {
      const row = [`${o.origin} (${o.why})`];
      for (const [i, c] of CONFIGS.entries()) {
        const allowed = c.origins === "*" ? !(c.credentials && o.origin === "null") : o.listed;
        const literalStar = c.origins === "*" && !c.credentials;
        const cell: string[] = [];
        for (const requested of ["PUT", "DELETE"]) {
          const where = `${o.origin} ${label(c)} ${requested}`;
          // Preflight.
          const before = backend.received.length;
          const pre = await send(port, `/r${i}/x`, "OPTIONS", {
            origin: o.origin,
            "access-control-request-method": requested,
            "access-control-request-headers": "X-A",
          });
          preflights++;
          t.is(backend.received.length, before, `${where}: a preflight never reaches the backend`);
          t.is(pre.status, allowed ? 200 : 403, where);
          const h = pre.headers;
          if (!allowed) {
            for (const name of Object.keys(h)) t.false(name.startsWith("access-control-"), `${where}: ${name}`);
          } else {
            t.is(h["access-control-allow-origin"], literalStar ? "*" : o.origin, where);
            t.is(h["access-control-allow-credentials"], c.credentials ? "true" : undefined, where);
            t.is(h["access-control-allow-methods"], c.methods === "*" ? requested : "GET, PUT", where);
            t.is(h["access-control-allow-headers"], c.methods === "*" ? "X-A" : "x-a, x-b", where);
            t.is(h["access-control-expose-headers"], "x-expose", where);
            t.is(h["access-control-max-age"], "600", where);
            t.is(h["vary"], literalStar ? undefined : "Origin", where);
          }
          const preOk = browserAllows(pre, o.origin, c.credentials, requested, ["X-A"]);
          // Actual request.
          const act = await send(port, `/r${i}/x`, requested, { origin: o.origin });
          t.is(act.status, 200, where);
          t.is(backend.received.length, before + 1, `${where}: the actual request reaches the backend`);
          const a = act.headers;
          t.is(a["access-control-allow-origin"], allowed ? (literalStar ? "*" : o.origin) : undefined, where);
          t.is(a["access-control-allow-credentials"], allowed && c.credentials ? "true" : undefined, where);
          t.is(a["access-control-expose-headers"], allowed ? "x-expose" : undefined, where);
          t.is(a["vary"], literalStar ? undefined : "Origin", where);
          const actOk = browserAllows(act, o.origin, c.credentials);
          cell.push(`${requested === "PUT" ? "P" : "D"}:${pre.status}${preOk ? "+" : "-"}${actOk ? "+" : "-"}`);
        }
        row.push(cell.join(" "));
      }
      table.push(row);
    }
    // Without an Origin the request is no CORS request: no CORS headers, straight to the backend.
    const plain = await send(port, "/r0/x", "GET", {});
    t.is(plain.headers["access-control-allow-origin"], undefined);
    // OPTIONS with an Origin but no Access-Control-Request-Method is an actual request.
    const before = backend.received.length;
    const options = await send(port, "/r0/x", "OPTIONS", { origin: "https://app.example.com" });
    t.is(backend.received.length, before + 1);
    t.is(options.headers["access-control-allow-origin"], "https://app.example.com");

    const metrics = await plane.metrics.registry.metrics();
    const counted = [...metrics.matchAll(/^meshgate_cors_preflight_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    t.is(counted, preflights);

    const widths = [Math.max(...table.map((r) => (r[0] ?? "").length)), ...CONFIGS.map(() => 15)];
    const line = (cells: string[]) => cells.map((s, i) => s.padEnd(widths[i] ?? 0)).join(" | ");
    console.log(
      [
        "CORS through the gateway, measured. Columns: allowOrigins listed (oL) or \"*\" (o*), allowMethods [GET, PUT] (mL) or \"*\" (m*),",
        "allowCredentials. Cell per requested method (P: PUT, D: DELETE): preflight status, then + / - for whether a browser's CORS",
        "check passes on the preflight and on the actual response (credentials sent when the route allows them).",
        line(["origin", ...CONFIGS.map(label)]),
        ...table.map(line),
      ].join("\n"),
    );
  } finally {
    await plane.drain(1000);
    await backend.close();
  }
});
