// `node dist/test/bench/routing-bench.js`: nanoseconds per PortRouter.route() over a table of
// 20 hosts with 50 route entries each, on a request mix of hits, fallbacks and misses.
import type { RequestInfo } from "../../gateway/routing/request.js";
import { PortRouter } from "../../gateway/routing/router.js";
import { type PortInput, portSchema } from "../../gateway/snapshot.js";

const HOSTS = 20;
const ROUTES_PER_HOST = 50;
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 2000);

type EntryInput = NonNullable<PortInput["listeners"][number]["entries"]>[number];

/** A host's entries in the kind of order the translator emits: Exact, then prefixes, then regexes. */
function hostEntries(host: string, firstAction: number): EntryInput[] {
  const entries: EntryInput[] = [];
  const hostnames = [host];
  for (let j = 0; j < 10; j++)
    entries.push({ hostnames, match: { path: { type: "Exact", value: `/exact/${j}` } }, action: 0 });
  for (let j = 0; j < 5; j++)
    entries.push({
      hostnames,
      match: {
        path: { type: "PathPrefix", value: `/tenant/${j}` },
        headers: [{ type: "Exact", name: "x-tenant", value: `t${j}` }],
      },
      action: 0,
    });
  for (let j = 0; j < 30; j++)
    entries.push({ hostnames, match: { path: { type: "PathPrefix", value: `/api/v1/res${j}` } }, action: 0 });
  for (let j = 0; j < 4; j++)
    entries.push({
      hostnames,
      match: { path: { type: "RegularExpression", value: `/items/${j}/[0-9]+` } },
      action: 0,
    });
  entries.push({ hostnames, match: { path: { type: "PathPrefix", value: "/" }, method: "GET" }, action: 0 });
  return entries.map((e, i) => ({ ...e, action: firstAction + i }));
}

function port(): PortInput {
  const entries: EntryInput[] = [];
  for (let h = 0; h < HOSTS; h++) entries.push(...hostEntries(`svc${h}.example.com`, entries.length));
  entries.push({
    hostnames: ["*.example.com"],
    match: { path: { type: "PathPrefix", value: "/" } },
    action: entries.length,
  });
  const actions = entries.map((_, i) => ({
    route: `bench/route-${i}`,
    rule: "0",
    backends: [
      { cluster: "a", weight: 80 },
      { cluster: "b", weight: 20 },
    ],
  }));
  return {
    port: 8080,
    protocol: "HTTP",
    listeners: [
      { name: "bench/gw/wild", gateway: "bench/gw", hostname: "*.example.com", entries, actions },
      {
        name: "bench/gw/any",
        gateway: "bench/gw",
        entries: [{ match: { path: { type: "PathPrefix", value: "/" } }, action: 0 }],
        actions: [{ route: "bench/fallback", rule: "0", backends: [{ cluster: "a", weight: 1 }] }],
      },
    ],
  };
}

function requests(): RequestInfo[] {
  const paths = [
    "/exact/3",
    "/api/v1/res7/items",
    "/api/v1/res29",
    "/items/2/1234",
    "/tenant/4/x",
    "/static/app.js",
    "/api/v1/res3x",
  ];
  const out: RequestInfo[] = [];
  for (let i = 0; i < 1024; i++) {
    const host =
      i % 32 === 31 ? "elsewhere.org" : i % 16 === 15 ? "unknown.example.com" : `svc${i % HOSTS}.example.com`;
    const path = paths[i % paths.length] ?? "/";
    out.push({
      host,
      method: i % 9 === 0 ? "POST" : "GET",
      path,
      query: i % 5 === 0 ? "page=2&sort=asc" : "",
      headers: { "x-tenant": `t${i % 6}`, "user-agent": "bench", accept: "*/*" },
    });
  }
  return out;
}

const router = new PortRouter(portSchema.parse(port()));
const reqs = requests();
let matched = 0;
/** ns per route() over `rounds` passes of the request mix. */
function measure(rounds: number): number {
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) for (const q of reqs) if (router.route(q) !== undefined) matched++;
  return Number(process.hrtime.bigint() - start) / (rounds * reqs.length);
}
measure(200);
// The median of several samples, so a busy machine's hiccups do not decide the figure.
const samples = Array.from({ length: 9 }, () => measure(Math.max(1, Math.round(ROUNDS / 9)))).sort(
  (a, b) => a - b,
);
const median = samples[4] ?? Number.NaN;
console.log(
  `route(): median ${median.toFixed(1)} ns/call, best ${(samples[0] ?? Number.NaN).toFixed(1)} ` +
    `(${HOSTS} hosts x ${ROUTES_PER_HOST} entries, ${reqs.length} requests x ${ROUNDS} rounds; ${matched} matched)`,
);
