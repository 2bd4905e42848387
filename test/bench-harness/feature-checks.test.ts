import test from "ava";
import {
  type Counters,
  countWindow,
  meshgateCounters,
  NO_COUNTERS,
  parseStubStatus,
  sumSeries,
  verifyRun,
} from "../bench/harness-feature-checks.js";

// Shaped as meshgate's admin /metrics prints them (prom-client text format).
const METRICS = `# HELP meshgate_ratelimit_requests_total Requests a rate limit rule counted.
# TYPE meshgate_ratelimit_requests_total counter
meshgate_ratelimit_requests_total{policy="default/never-reached",rule="everyone",result="allowed"} 1200
meshgate_ratelimit_requests_total{policy="default/never-reached",rule="everyone",result="limited"} 3
meshgate_ratelimit_requests_total{policy="default/other",rule="r \\"quoted\\"",result="allowed"} 5
# TYPE meshgate_ratelimit_fallback_total counter
meshgate_ratelimit_fallback_total{source="insurance"} 7
meshgate_ratelimit_fallback_total{source="fail-closed"} 1
# TYPE meshgate_mirror_requests_total counter
meshgate_mirror_requests_total{route="default/origin",result="sent"} 900
meshgate_mirror_requests_total{route="default/origin",result="failed_timeout"} 2
meshgate_mirror_requests_total{route="default/origin",result="failed_connect"} 1
meshgate_mirror_requests_total{route="default/origin",result="skipped_overloaded"} 4
meshgate_mirror_requests_total_extra 99
process_resident_memory_bytes 1.2e8
`;

// nginx 1.22 stub_status.
const STUB = `Active connections: 3 
server accepts handled requests
 12 12 28716 
Reading: 0 Writing: 1 Waiting: 2 
`;

test("series are summed by name and labels; a label test picks families of values", (t) => {
  t.is(sumSeries(METRICS, "meshgate_ratelimit_requests_total", { result: "allowed" }), 1205);
  t.is(sumSeries(METRICS, "meshgate_ratelimit_requests_total", { rule: 'r "quoted"' }), 5);
  t.is(sumSeries(METRICS, "meshgate_mirror_requests_total", { result: (v) => v.startsWith("failed_") }), 3);
  t.is(sumSeries(METRICS, "process_resident_memory_bytes"), 1.2e8);
  t.is(sumSeries(METRICS, "meshgate_mirror_requests_total", { missing: "x" }), 0);
  t.is(sumSeries("", "meshgate_ratelimit_fallback_total"), 0);
});

test("meshgate's counters for the checks come from its metrics text", (t) => {
  t.deepEqual(meshgateCounters(METRICS), {
    allowed: 1205,
    limited: 3,
    withoutRedis: 8,
    mirrorSent: 900,
    mirrorFailed: 3,
    mirrorSkipped: 4,
  });
});

test("nginx's stub_status gives its request count", (t) => {
  t.is(parseStubStatus(STUB), 28716);
  t.true(Number.isNaN(parseStubStatus("<html>404</html>")));
});

const ZERO: Counters = {
  allowed: 0,
  limited: 0,
  withoutRedis: 0,
  mirrorSent: 0,
  mirrorFailed: 0,
  mirrorSkipped: 0,
  redisKeys: 1,
  redisCount: 500,
  mirrorOriginRequests: 40,
};
const FACTS = { requests: 10_000, non2xx: 0, connections: 64 };

function after(changes: Partial<Counters>): Counters {
  return { ...ZERO, ...changes };
}

test("the counting window allows the requests in flight at either edge of the run", (t) => {
  t.deepEqual(countWindow(FACTS), { min: 9936, max: 10_128 });
});

test("a Global limit counted in Redis for every request, with nothing limited or answered without Redis, is verified", (t) => {
  const v = verifyRun("global limit", ZERO, after({ allowed: 10_064, redisCount: 10_564 }), FACTS);
  t.deepEqual(v.problems, []);
  t.is(v.summary, "Redis +10064 in 1 key(s), allowed +10064, limited +0, without Redis +0, for 10000 requests");
  // Slots leased and not yet used are counted in Redis: up to one lease more (or, used from an
  // earlier lease, fewer) than allowed.
  t.deepEqual(verifyRun("global limit", ZERO, after({ allowed: 10_000, redisCount: 10_756 }), FACTS).problems, []);
  t.deepEqual(verifyRun("global limit", ZERO, after({ allowed: 10_000, redisCount: 10_244 }), FACTS).problems, []);
  t.deepEqual(verifyRun("global limit", ZERO, after({ allowed: 10_000, redisCount: 10_757 }), FACTS).problems, [
    "Redis counted 10257 for 10000 allowed, 0 limited (expected 9744..10256, leases included)",
  ]);
});

test("a Global limit answered from memory, missing from Redis or limiting is not verified", (t) => {
  const insurance = verifyRun("global limit", ZERO, after({ allowed: 10_000, redisCount: 2500, withoutRedis: 8000 }), FACTS);
  t.deepEqual(insurance.problems, [
    "Redis counted 2000 for 10000 allowed, 0 limited (expected 9744..10256, leases included)",
    "decisions without Redis (insurance or fail-closed): 8000",
  ]);
  const noKey = verifyRun("global limit", { ...ZERO, redisKeys: 0, redisCount: 0 }, after({ allowed: 10_000, redisKeys: 0, redisCount: 0 }), FACTS);
  t.is(noKey.problems[0], "no meshgate-rl* key in Redis (0 keys)");
  const unread = verifyRun("global limit", ZERO, after({ allowed: 10_000, redisKeys: Number.NaN, redisCount: Number.NaN }), FACTS);
  t.deepEqual(unread.problems, ["no meshgate-rl* key in Redis (Redis not read)", "Redis: could not be read"]);
  const limiting = verifyRun("global limit", ZERO, after({ allowed: 9000, limited: 1000, redisCount: 10_500 }), {
    ...FACTS,
    non2xx: 1000,
  });
  t.deepEqual(limiting.problems, [
    "allowed counted 9000 for wrk's 10000 requests (expected 9936..10128)",
    "limited (429): 1000",
    "non-2xx responses (429 included): 1000",
  ]);
});

test("a Local limit must count every request and limit none", (t) => {
  t.deepEqual(verifyRun("local limit", ZERO, after({ allowed: 10_010 }), FACTS).problems, []);
  t.deepEqual(verifyRun("local limit", ZERO, after({ allowed: 0 }), FACTS).problems, [
    "allowed counted 0 for wrk's 10000 requests (expected 9936..10128)",
  ]);
});

test("a mirror must send every copy and the mirror origin must read them, the status request aside", (t) => {
  const ok = verifyRun("mirror 100%", ZERO, after({ mirrorSent: 10_030, mirrorOriginRequests: 40 + 10_030 + 1 }), FACTS);
  t.deepEqual(ok.problems, []);
  t.is(ok.summary, "copies sent +10030, failed +0, skipped +0; mirror origin read +10030; for 10000 requests");
  const skipping = verifyRun(
    "mirror 100%",
    ZERO,
    after({ mirrorSent: 6000, mirrorSkipped: 4000, mirrorOriginRequests: 40 + 6000 + 1 }),
    FACTS,
  );
  t.deepEqual(skipping.problems, [
    "copies sent counted 6000 for wrk's 10000 requests (expected 9936..10128)",
    "mirror origin counted 6000 for wrk's 10000 requests (expected 9936..10128)",
    "copies skipped: 4000",
  ]);
  const nowhere = verifyRun("mirror 100%", ZERO, after({ mirrorSent: 10_000, mirrorFailed: 10_000, mirrorOriginRequests: 41 }), FACTS);
  t.deepEqual(nowhere.problems, [
    "mirror origin counted 0 for wrk's 10000 requests (expected 9936..10128)",
    "copies failed: 10000",
  ]);
});

test("a run without completed requests proves nothing", (t) => {
  const idle = { requests: 0, non2xx: 0, connections: 64 };
  t.deepEqual(verifyRun("local limit", ZERO, ZERO, idle).problems, ["wrk completed no requests"]);
  t.deepEqual(verifyRun("meshgate", ZERO, ZERO, idle).problems, ["wrk completed no requests"]);
});

test("the reference must count no rate limit and send no copy", (t) => {
  const none = { ...NO_COUNTERS, allowed: 0, limited: 0, mirrorSent: 0 };
  t.deepEqual(verifyRun("meshgate", none, none, FACTS).problems, []);
  t.deepEqual(verifyRun("meshgate", none, { ...none, allowed: 10_000, mirrorSent: 5 }, FACTS).problems, [
    "rate limit decisions without a policy: 10000",
    "mirror copies without a mirror: 5",
  ]);
});
