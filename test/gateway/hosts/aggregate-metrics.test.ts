// The merge of /metrics: data-plane counters add up across workers; default metrics labelled
// per worker pass through one series per process, whatever prom-client's own aggregator says.
import test from "ava";
import { Counter, Gauge, Registry } from "prom-client";
import { aggregateMetrics } from "../../../gateway/hosts/index.js";
import { labelledPerProcess } from "../../../gateway/telemetry/process-metrics.js";
import { parsePrometheusText } from "../../support/prom-text.js";

async function loop(requests: number, rss: number, lagP99: number, started: number) {
  const plane = new Registry();
  new Counter({ name: "x_requests_total", help: "X.", registers: [plane] }).inc(requests);
  const own = new Registry();
  // The aggregators prom-client's default metrics carry: summed, averaged, dropped.
  new Gauge({ name: "process_resident_memory_bytes", help: "R.", registers: [own] }).set(rss);
  new Gauge({ name: "nodejs_eventloop_lag_p99_seconds", help: "L.", registers: [own], aggregator: "average" }).set(lagP99);
  new Gauge({ name: "process_start_time_seconds", help: "S.", registers: [own], aggregator: "omit" }).set(started);
  return { plane: await plane.getMetricsAsJSON(), own: await own.getMetricsAsJSON() };
}

test("counters are summed; each process's series is kept under its worker label", async (t) => {
  const a = await loop(3, 100, 0.01, 1000);
  const b = await loop(5, 200, 0.5, 1001);
  const supervisor = await loop(0, 300, 0.02, 999);
  const { text } = await aggregateMetrics(
    [a.plane, labelledPerProcess(a.own, "0"), b.plane, labelledPerProcess(b.own, "1"), labelledPerProcess(supervisor.own, "supervisor")],
    [],
  );
  const families = parsePrometheusText(text);
  const byWorker = (name: string) => Object.fromEntries((families.get(name)?.samples ?? []).map((s) => [s.labels["worker"], s.value]));
  t.is(families.get("x_requests_total")?.samples[0]?.value, 8);
  t.deepEqual(byWorker("process_resident_memory_bytes"), { "0": 100, "1": 200, supervisor: 300 });
  t.deepEqual(byWorker("nodejs_eventloop_lag_p99_seconds"), { "0": 0.01, "1": 0.5, supervisor: 0.02 });
  t.deepEqual(byWorker("process_start_time_seconds"), { "0": 1000, "1": 1001, supervisor: 999 });
});
