// The feature variants' YAML, read by meshgate's own controller: each variant configures exactly
// its feature (a test of the bench, so that its rows measure what they are named after).
import test from "ava";
import {
  FEATURE_REFERENCE,
  FEATURE_VARIANTS,
  type FeatureVariant,
  meshgateFeatureConfig,
  NEVER_REACHED,
  variantArgs,
  variantProcName,
} from "../bench/harness-feature-configs.js";
import { listener, run } from "../support/controller-yaml.js";

const PORTS = { port: 8080, originPort: 9000, mirrorPort: 9001 };

function translated(variant: FeatureVariant) {
  const { snapshot, status } = run(meshgateFeatureConfig(variant, PORTS));
  const action = listener(snapshot, "default/bench/http").actions[0];
  const endpoints = Object.fromEntries(
    snapshot.clusters.map((c) => [c.name, c.endpoints.map((e) => `${e.address}:${e.port}`)]),
  );
  return { action, endpoints, status };
}

test("the reference has one route to the origin, no rate limit and no mirror", (t) => {
  const { action, endpoints } = translated(FEATURE_REFERENCE);
  t.deepEqual(action?.backends.map((b) => b.cluster), ["default/origin:80"]);
  t.deepEqual(action?.rateLimits, []);
  t.deepEqual(action?.mirrors, []);
  t.deepEqual(endpoints, { "default/origin:80": ["127.0.0.1:9000"] });
});

for (const [variant, type] of [
  ["global limit", "Global"],
  ["local limit", "Local"],
] as const) {
  test(`${variant}: one ${type} rule counts every request on the route against a limit the run cannot reach`, (t) => {
    const { action, status } = translated(variant);
    t.deepEqual(action?.mirrors, []);
    t.is(action?.rateLimits.length, 1);
    const rule = action?.rateLimits[0];
    t.is(rule?.type, type);
    t.deepEqual(rule?.selectors, []);
    t.deepEqual(rule?.limit, NEVER_REACHED);
    // A full run (3 rounds of a 2 s warm-up and 10 s) at 100k rps sends under a hundredth of it.
    t.true(NEVER_REACHED.requests > 100 * 3 * 12 * 100_000);
    t.is(rule?.failClosed, undefined);
    const policy = status.policies.find((p) => p.kind === "RateLimitPolicy");
    t.is(policy?.conditions.find((c) => c.type === "Accepted")?.status, "True");
  });
}

test("mirror 100% copies every request to the second origin's port, and still answers from the origin", (t) => {
  const { action, endpoints } = translated("mirror 100%");
  t.deepEqual(action?.mirrors, [{ cluster: "default/mirror:80", probability: 1 }]);
  t.deepEqual(action?.backends.map((b) => b.cluster), ["default/origin:80"]);
  t.deepEqual(action?.rateLimits, []);
  t.deepEqual(endpoints, { "default/mirror:80": ["127.0.0.1:9001"], "default/origin:80": ["127.0.0.1:9000"] });
});

test("only the Global variant is pointed at Redis; every variant has its own process name", (t) => {
  t.deepEqual(variantArgs("global limit", 6380), ["--redis", "redis://127.0.0.1:6380"]);
  for (const v of FEATURE_VARIANTS.filter((x) => x !== "global limit")) t.deepEqual(variantArgs(v, 6380), []);
  t.is(new Set(FEATURE_VARIANTS.map(variantProcName)).size, FEATURE_VARIANTS.length);
  t.is(FEATURE_VARIANTS[0], FEATURE_REFERENCE);
});
