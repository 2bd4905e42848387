// The controller part of `npm run bench` (BENCH_ONLY=controller): `meshgate controller` (no
// --serve: translation and status only) against the real test API server. Per round, in a fresh
// namespace: 100 Gateways (one listener each) and 1,000 HTTPRoutes spread over them, created at
// once by 16 parallel clients; measured: from the last create until every route and Gateway has
// meshgate's status written, and the controller's RSS (peak and settled). Then single route
// changes (a hostname edit): time from the write until the controller's Snapshot (admin
// /config_dump) has the new hostname, and until the route's status shows the new generation.
import { fileURLToPath } from "node:url";
import { KubeClient } from "../../controller/provider/kubernetes/client.js";
import { freePort, waitFor } from "../support/net.js";
import { type KubeApiServer, startKubeApiServer } from "../kube/server.js";
import { sampleRss } from "./harness-probe.js";
import type { BenchPartOptions } from "./harness-targets.js";

const MESHGATE_CLI = fileURLToPath(new URL("../../cli.js", import.meta.url));
const GATEWAYS = 100;
const ROUTES = 1000;
const CHANGES = 5;
const CLIENTS = 16;
const CONTROLLER_NAME = "meshgate.io/gateway-controller";
/** The goals: a route change in under a second at 1,000 routes, RSS under 150 MB. */
export const CHANGE_TARGET_MS = 1000;
export const RSS_TARGET_MB = 150;

export interface ControllerRound {
  createMs: number;
  allStatusMs: number;
  changeToSnapshotMs: number[];
  changeToStatusMs: number[];
  rssPeakMb: number;
  rssSettledMb: number;
}

export interface ControllerBenchResult {
  rounds: ControllerRound[];
  apiServerStartMs: number;
  notes: string[];
}

async function parallel(count: number, each: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < count) await each(next++);
    }),
  );
}

interface RouteStatus {
  metadata: { name: string; generation: number };
  status?: { parents?: { controllerName: string; conditions?: { type: string; status: string; observedGeneration?: number }[] }[] };
}

function written(route: RouteStatus, generation = route.metadata.generation): boolean {
  return (route.status?.parents ?? []).some(
    (p) => p.controllerName === CONTROLLER_NAME && (p.conditions ?? []).some((c) => c.type === "Accepted" && c.observedGeneration === generation),
  );
}

async function oneRound(part: BenchPartOptions, server: KubeApiServer, client: KubeClient, round: number): Promise<ControllerRound> {
  const ns = `bench-${round}-${Date.now().toString(36)}`;
  await client.json("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  const adminPort = await freePort();
  const proc = part.env.sup.start(`controller-${round}`, part.proxyCore, process.execPath, [
    ...part.nodeFlags,
    MESHGATE_CLI,
    "controller",
    "--kubeconfig",
    server.kubeconfigPath,
    "--admin-port",
    String(adminPort),
    "--log-level",
    "warn",
  ]);
  const rss = sampleRss(proc.pid, 100);
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${adminPort}/ready`).catch(() => undefined))?.status === 200, 60_000, 50);
    const gw = "/apis/gateway.networking.k8s.io/v1";
    const started = Date.now();
    await parallel(GATEWAYS, async (g) => {
      await client.json("POST", `${gw}/namespaces/${ns}/gateways`, {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "Gateway",
        metadata: { name: `gw${g}`, namespace: ns },
        spec: { gatewayClassName: "bench", listeners: [{ name: "http", port: 20000 + g, protocol: "HTTP" }] },
      });
    });
    await parallel(ROUTES, async (i) => {
      await client.json("POST", `${gw}/namespaces/${ns}/httproutes`, {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: { name: `r${i}`, namespace: ns },
        spec: {
          parentRefs: [{ name: `gw${i % GATEWAYS}` }],
          hostnames: [`r${i}.example.com`],
          rules: [{ matches: [{ path: { type: "PathPrefix", value: `/p${i}` } }], backendRefs: [{ name: "b", port: 80 }] }],
        },
      });
    });
    const created = Date.now();
    await waitFor(
      async () => {
        const list = (await client.json("GET", `${gw}/namespaces/${ns}/httproutes`)) as { items: RouteStatus[] };
        return list.items.length === ROUTES && list.items.every((r) => written(r));
      },
      300_000,
      100,
    );
    const allStatus = Date.now();
    const changeToSnapshotMs: number[] = [];
    const changeToStatusMs: number[] = [];
    for (let c = 0; c < CHANGES; c++) {
      const name = `r${c * 97}`;
      const host = `changed-${c}.example.com`;
      const at = Date.now();
      const patched = (await client.json(
        "PATCH",
        `${gw}/namespaces/${ns}/httproutes/${name}`,
        { spec: { hostnames: [host] } },
        "application/merge-patch+json",
      )) as RouteStatus;
      await waitFor(async () => (await (await fetch(`http://127.0.0.1:${adminPort}/config_dump`)).text()).includes(host), 30_000, 5);
      changeToSnapshotMs.push(Date.now() - at);
      await waitFor(
        async () => written((await client.json("GET", `${gw}/namespaces/${ns}/httproutes/${name}`)) as RouteStatus, patched.metadata.generation),
        30_000,
        10,
      );
      changeToStatusMs.push(Date.now() - at);
    }
    await new Promise((r) => setTimeout(r, 2000));
    const rssPeakMb = rss.stop();
    const settled = sampleRss(proc.pid);
    const rssSettledMb = settled.stop();
    return { createMs: created - started, allStatusMs: allStatus - created, changeToSnapshotMs, changeToStatusMs, rssPeakMb, rssSettledMb };
  } finally {
    rss.stop();
    if (proc.exitReason() === undefined) process.kill(proc.pid, "SIGTERM");
    await proc.exited;
    // The next round starts on a quiet cluster: 1,100 deletions streaming past its controller would
    // be measured as its own work.
    await client.json("DELETE", `/api/v1/namespaces/${ns}`).catch(() => undefined);
    await waitFor(
      () => client.json("GET", `/api/v1/namespaces/${ns}`).then(() => false, () => true),
      300_000,
      500,
    ).catch(() => console.error(`namespace ${ns} still terminating; the next round may see its deletions`));
  }
}

export async function runControllerBench(part: BenchPartOptions): Promise<ControllerBenchResult | undefined> {
  const server = await startKubeApiServer();
  try {
    const client = new KubeClient({ kubeconfig: server.kubeconfigPath });
    try {
      await client.json("POST", "/apis/gateway.networking.k8s.io/v1/gatewayclasses", {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "GatewayClass",
        metadata: { name: "bench" },
        spec: { controllerName: CONTROLLER_NAME },
      });
      const rounds: ControllerRound[] = [];
      for (let r = 0; r < part.rounds; r++) {
        if (part.interrupted()) return undefined;
        rounds.push(await oneRound(part, server, client, r));
        console.error(`controller round ${r + 1}/${part.rounds} done`);
      }
      const version = ((await client.json("GET", "/version")) as { gitVersion?: string }).gitVersion ?? "?";
      return {
        rounds,
        apiServerStartMs: server.startupMs,
        notes: [`API server: test/kube (kube-apiserver ${version}, embedded etcd), started in ${server.startupMs} ms`],
      };
    } finally {
      client.close();
    }
  } finally {
    await server.stop();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] ?? Number.NaN);
};

export function formatControllerSection(result: ControllerBenchResult): string[] {
  const n = (x: number) => (Number.isNaN(x) ? "n/a" : x.toFixed(0));
  const rows = result.rounds.map((r, i) =>
    [
      String(i + 1),
      n(r.createMs),
      n(r.allStatusMs),
      n(median(r.changeToSnapshotMs)),
      n(Math.max(...r.changeToSnapshotMs)),
      n(median(r.changeToStatusMs)),
      n(Math.max(...r.changeToStatusMs)),
      n(r.rssPeakMb),
      n(r.rssSettledMb),
    ].join(" | "),
  );
  const worstChange = Math.max(...result.rounds.flatMap((r) => r.changeToSnapshotMs));
  const worstRss = Math.max(...result.rounds.map((r) => r.rssPeakMb));
  const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");
  return [
    `controller: meshgate controller (no --serve) on the real API server; per round ${GATEWAYS} Gateways and ${ROUTES} HTTPRoutes created by ${CLIENTS} clients; ` +
      `all status = last create to every route's status written; change = one route's hostname edited, to its Snapshot and to its status (${CHANGES} per round: median / max); RSS in MiB`,
    ["round", "create ms", "all status ms", "change->snapshot ms", "max", "change->status ms", "max", "RSS peak", "RSS settled"].join(" | "),
    ...rows,
    ...result.notes,
    `target: route change to Snapshot < ${CHANGE_TARGET_MS} ms at ${ROUTES} routes: ${verdict(worstChange < CHANGE_TARGET_MS)} (worst ${n(worstChange)} ms)`,
    `target: controller RSS < ${RSS_TARGET_MB} MB: ${verdict(worstRss < RSS_TARGET_MB)} (worst peak ${n(worstRss)} MiB)`,
  ];
}
