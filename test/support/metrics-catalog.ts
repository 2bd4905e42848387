// Every metric meshgate registers, read from the registries themselves (not from a scrape, where
// a labelled metric with no series yet shows no labels), and README's "Metrics" table made from
// them. test/readme-metrics.test.ts keeps the table in step; `npm run docs:metrics` rewrites it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import type { Registry } from "prom-client";
import { Controller } from "../../cli/controller.js";
import { Standalone } from "../../cli/standalone.js";
import { SupervisedHost } from "../../gateway/hosts/supervisor.js";
import { DataPlaneMetrics } from "../../gateway/telemetry/metrics.js";
import { defaultMetricsRegistry, WORKER_LABEL } from "../../gateway/telemetry/process-metrics.js";

export interface MetricDoc {
  name: string;
  type: string;
  labels: readonly string[];
  /** How /metrics combines the processes' values. */
  reportedBy: string;
  help: string;
}

/** How the merge combines the workers' values of a data-plane metric, by its aggregator. */
const ACROSS_WORKERS: Record<string, string> = { sum: "each worker, summed", max: "each worker, the highest" };
const SUPERVISOR = "supervisor";
const PER_PROCESS = "each process, by `worker`";
const CONTROLLER = "`meshgate controller`";

async function docsOf(registry: Registry, reportedBy: string | undefined, extraLabels: readonly string[] = []): Promise<MetricDoc[]> {
  const json = await registry.getMetricsAsJSON();
  return json.map((metric) => {
    const across = reportedBy ?? ACROSS_WORKERS[metric.aggregator];
    if (across === undefined) throw new Error(`${metric.name}: no words for the ${metric.aggregator} aggregator`);
    const labelNames = (registry.getSingleMetric(metric.name) as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
    return { name: metric.name, type: String(metric.type), labels: [...labelNames, ...extraLabels], reportedBy: across, help: metric.help };
  });
}

/** The supervisor's registry as `meshgate standalone` builds it: configuration, ACME, and what the CLI adds. */
async function standaloneRegistry(): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), "meshgate-catalog-"));
  const standalone = new Standalone({
    configDir: dir,
    workers: 1,
    workerMode: "local",
    adminAddress: "127.0.0.1",
    adminPort: 0,
    accessLog: "off",
    drainTimeoutMs: 0,
    logger: pino({ level: "silent" }),
    stateDir: dir,
  });
  // Private in the class; read here so the table follows whatever standalone.ts registers.
  const registry = (standalone as unknown as { registry: Registry }).registry;
  await standalone.stop();
  return registry;
}

/** `meshgate controller`'s own metrics (watches, translation, status writes, leader election). */
async function controllerRegistry(): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), "meshgate-catalog-kube-"));
  // Nothing is dialled before start(): the address only has to parse.
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:1" } }],
      users: [{ name: "u", user: { token: "catalog" } }],
      contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
      "current-context": "c",
    }),
  );
  const controller = new Controller({
    kubeconfig,
    controllerName: "meshgate.io/gateway-controller",
    serve: false,
    workers: 1,
    adminAddress: "127.0.0.1",
    adminPort: 0,
    accessLog: "off",
    drainTimeoutMs: 0,
    logger: pino({ level: "silent" }),
  });
  rmSync(dir, { recursive: true, force: true });
  return controller.registry;
}

/** Supervisor metrics that exist only with supervised workers. */
function supervisorRegistry(registry: Registry): void {
  void new SupervisedHost({ spawn: () => { throw new Error("no workers in the catalog"); } }, { workers: 0, registry });
}

export async function metricsCatalog(): Promise<MetricDoc[]> {
  const own = await standaloneRegistry();
  supervisorRegistry(own);
  const standaloneDocs = await docsOf(own, SUPERVISOR);
  const known = new Set(standaloneDocs.map((d) => d.name));
  const controllerDocs = (await docsOf(await controllerRegistry(), CONTROLLER)).filter((d) => !known.has(d.name));
  const docs = [
    ...(await docsOf(new DataPlaneMetrics().registry, undefined)),
    ...standaloneDocs,
    ...controllerDocs,
    ...(await docsOf(defaultMetricsRegistry(), PER_PROCESS, [WORKER_LABEL])),
  ];
  const sections = (d: MetricDoc) => (d.name.startsWith("meshgate_") ? 0 : 1);
  return docs.sort((a, b) => sections(a) - sections(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\n/g, " ");

export function metricsTable(docs: readonly MetricDoc[]): string {
  const rows = docs.map(
    (d) =>
      `| \`${d.name}\` | ${d.type} | ${d.labels.length === 0 ? "" : d.labels.map((l) => `\`${l}\``).join(", ")} | ${d.reportedBy} | ${cell(d.help)} |`,
  );
  return ["| Metric | Type | Labels | Reported by | What it tells you |", "|---|---|---|---|---|", ...rows].join("\n") + "\n";
}

export const TABLE_START = "<!-- metrics-table:start (npm run docs:metrics writes this table) -->\n";
export const TABLE_END = "<!-- metrics-table:end -->";

/** README's text between the markers; undefined when they are missing. */
export function tableIn(readme: string): string | undefined {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  return start < 0 || end < start ? undefined : readme.slice(start + TABLE_START.length, end);
}
