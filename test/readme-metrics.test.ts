// README's Metrics table lists every registered metric with its type and labels, exactly as the
// registries have them: a metric added, renamed or relabelled without `npm run docs:metrics` fails here.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import test from "ava";
import { metricsCatalog, metricsTable, tableIn } from "./support/metrics-catalog.js";

const README = fileURLToPath(new URL("../../README.md", import.meta.url));

test("README's metrics table matches the registries (npm run docs:metrics rewrites it)", async (t) => {
  const catalog = await metricsCatalog();
  t.log(`${catalog.length} metrics: ${catalog.filter((d) => d.name.startsWith("meshgate_")).length} meshgate_*, ${catalog.filter((d) => !d.name.startsWith("meshgate_")).length} process_*/nodejs_*`);
  t.true(catalog.some((d) => d.name === "meshgate_proxy_protocol_rejected_total" && d.labels.join() === "port,reason"));
  t.true(catalog.some((d) => d.name === "meshgate_worker_restarts_total"), "the supervisor's metrics are in");
  t.true(catalog.some((d) => d.name === "nodejs_eventloop_lag_p99_seconds" && d.labels.join() === "worker"));
  const table = tableIn(readFileSync(README, "utf8"));
  t.not(table, undefined, "README has the metrics-table markers");
  t.is(table, metricsTable(catalog));
});
