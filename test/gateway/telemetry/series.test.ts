import test from "ava";
import { AggregatorRegistry, Registry } from "prom-client";
import { FastCounter, FastHistogram } from "../../../gateway/telemetry/series.js";

test("a counter is exposed per label set in Prometheus text", async (t) => {
  const registry = new Registry();
  const c = new FastCounter("x_requests_total", "Requests.", ["route", "code"], registry);
  c.inc("a", 200);
  c.inc("a", 200);
  c.inc("a", 503);
  c.inc("b", 200);
  const text = await registry.metrics();
  t.true(text.includes("# TYPE x_requests_total counter"));
  t.true(text.includes('x_requests_total{route="a",code="200"} 2'));
  t.true(text.includes('x_requests_total{route="a",code="503"} 1'));
  t.true(text.includes('x_requests_total{route="b",code="200"} 1'));
});

test("a histogram has cumulative buckets, +Inf, sum and count", async (t) => {
  const registry = new Registry();
  const h = new FastHistogram("x_seconds", "Durations.", ["route"], [0.1, 1], registry);
  h.observe(0.05, "a");
  h.observe(0.1, "a"); // on the bound: counted in le=0.1, as Prometheus defines it
  h.observe(0.5, "a");
  h.observe(7, "a");
  const text = await registry.metrics();
  t.true(text.includes("# TYPE x_seconds histogram"));
  t.true(text.includes('x_seconds_bucket{route="a",le="0.1"} 2'));
  t.true(text.includes('x_seconds_bucket{route="a",le="1"} 3'));
  t.true(text.includes('x_seconds_bucket{route="a",le="+Inf"} 4'));
  t.true(text.includes('x_seconds_sum{route="a"} 7.65'));
  t.true(text.includes('x_seconds_count{route="a"} 4'));
});

test("series from several registries (one per worker) add up when merged", async (t) => {
  const json = [];
  for (const n of [2, 3]) {
    const registry = new Registry();
    const c = new FastCounter("x_total", "X.", ["gateway", "route", "backend", "code"], registry);
    const h = new FastHistogram("x_seconds", "X.", ["cluster"], [1], registry);
    for (let i = 0; i < n; i++) {
      c.inc("g", "r", "b", 200);
      h.observe(0.5, "c");
    }
    json.push(await registry.getMetricsAsJSON());
  }
  const merged = await AggregatorRegistry.aggregate(json as never).metrics();
  t.true(merged.includes('x_total{gateway="g",route="r",backend="b",code="200"} 5'));
  t.true(merged.includes('x_seconds_bucket{cluster="c",le="1"} 5'));
  t.true(merged.includes('x_seconds_count{cluster="c"} 5'));
});
