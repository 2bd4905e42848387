// Proof that each feature variant did what its row claims, read from counters outside wrk:
// meshgate's own metrics, the Global limiter's key in Redis, and the mirror origin's request
// count. Parsing and judging are pure; reading the counters lives in harness-feature-targets.ts.
import { LEASE_MAX } from "../../gateway/ratelimit/limiter.js";
import type { FeatureVariant } from "./harness-feature-configs.js";

/** Counters read before and after a measured run. NaN where the variant has no such counter. */
export interface Counters {
  /** meshgate_ratelimit_requests_total{result="allowed"} and {result="limited"}. */
  allowed: number;
  limited: number;
  /** meshgate_ratelimit_fallback_total: Global decisions taken without Redis. */
  withoutRedis: number;
  /** meshgate_mirror_requests_total by result: "sent", "failed_*" and "skipped_*". */
  mirrorSent: number;
  mirrorFailed: number;
  mirrorSkipped: number;
  /** How many meshgate-rl* keys Redis holds, and the sum of their counts. */
  redisKeys: number;
  redisCount: number;
  /** Requests the mirror origin has read (nginx stub_status), the status request itself included. */
  mirrorOriginRequests: number;
}

export const NO_COUNTERS: Counters = {
  allowed: Number.NaN,
  limited: Number.NaN,
  withoutRedis: Number.NaN,
  mirrorSent: Number.NaN,
  mirrorFailed: Number.NaN,
  mirrorSkipped: Number.NaN,
  redisKeys: Number.NaN,
  redisCount: Number.NaN,
  mirrorOriginRequests: Number.NaN,
};

type LabelTest = string | ((value: string) => boolean);

/** Label pairs of one series, from the text between { and }. */
function parseLabels(text: string): Map<string, string> {
  const labels = new Map<string, string>();
  for (const m of text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels.set(m[1] ?? "", (m[2] ?? "").replace(/\\(.)/g, "$1"));
  return labels;
}

/**
 * Sum of every sample of `name` in Prometheus text whose labels pass `labels` (a value to equal,
 * or a test). 0 when no series matches: a counter that never counted is not exported.
 */
export function sumSeries(text: string, name: string, labels: Record<string, LabelTest> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null || m[1] !== name) continue;
    const found = parseLabels(m[2] ?? "");
    const matches = Object.entries(labels).every(([label, want]) => {
      const value = found.get(label);
      if (value === undefined) return false;
      return typeof want === "string" ? value === want : want(value);
    });
    if (matches) sum += Number(m[3]);
  }
  return sum;
}

/** The meshgate counters the variants are checked with, from its admin /metrics text. */
export function meshgateCounters(metricsText: string): Pick<
  Counters,
  "allowed" | "limited" | "withoutRedis" | "mirrorSent" | "mirrorFailed" | "mirrorSkipped"
> {
  const rl = "meshgate_ratelimit_requests_total";
  const mirror = "meshgate_mirror_requests_total";
  return {
    allowed: sumSeries(metricsText, rl, { result: "allowed" }),
    limited: sumSeries(metricsText, rl, { result: "limited" }),
    withoutRedis: sumSeries(metricsText, "meshgate_ratelimit_fallback_total"),
    mirrorSent: sumSeries(metricsText, mirror, { result: "sent" }),
    mirrorFailed: sumSeries(metricsText, mirror, { result: (v) => v.startsWith("failed_") }),
    mirrorSkipped: sumSeries(metricsText, mirror, { result: (v) => v.startsWith("skipped_") }),
  };
}

/** The "requests" figure of nginx's stub_status page (accepts, handled, requests); NaN if absent. */
export function parseStubStatus(text: string): number {
  const m = /^\s*\d+\s+\d+\s+(\d+)\s*$/m.exec(text);
  return m === null ? Number.NaN : Number(m[1]);
}

/** What wrk reported for the measured run. */
export interface RunFacts {
  requests: number;
  non2xx: number;
  connections: number;
}

export interface Verification {
  /** One line of what was counted, e.g. "Redis +90123 (1 key), ...". */
  summary: string;
  /** Empty when the variant did what it claims. */
  problems: string[];
}

/**
 * wrk counts the responses it completed. Requests in flight when the warm-up stopped are counted
 * by meshgate during the measured run, and those in flight when it stops are counted without being
 * completed: up to `connections` at each edge. A count outside this window means the feature did
 * not see the load that was measured.
 */
export function countWindow(facts: RunFacts): { min: number; max: number } {
  return { min: facts.requests - facts.connections, max: facts.requests + 2 * facts.connections };
}

function delta(before: Counters, after: Counters, key: keyof Counters): number {
  return after[key] - before[key];
}

/** Problems when `counted` is not what the run's requests imply (or could not be read). */
function expectAll(what: string, counted: number, facts: RunFacts): string[] {
  if (Number.isNaN(counted)) return [`${what}: could not be read`];
  const { min, max } = countWindow(facts);
  if (counted < min || counted > max)
    return [`${what} counted ${counted} for wrk's ${facts.requests} requests (expected ${min}..${max})`];
  return [];
}

/**
 * Redis counts each allowed request's slot (and a limited request's, unless memory answered it),
 * plus the slots the gateway's one thread holds leased and unused: at most LEASE_MAX at either
 * edge of the run.
 */
function expectReserved(counted: number, allowed: number, limited: number): string[] {
  if (Number.isNaN(counted)) return ["Redis: could not be read"];
  const min = allowed - LEASE_MAX;
  const max = allowed + limited + LEASE_MAX;
  if (counted < min || counted > max)
    return [`Redis counted ${counted} for ${allowed} allowed, ${limited} limited (expected ${min}..${max}, leases included)`];
  return [];
}

function expectNone(what: string, counted: number): string[] {
  if (Number.isNaN(counted)) return [`${what}: could not be read`];
  return counted === 0 ? [] : [`${what}: ${counted}`];
}

/** Judges one measured run of `variant` from the counters around it. */
export function verifyRun(variant: FeatureVariant, before: Counters, after: Counters, facts: RunFacts): Verification {
  const d = (key: keyof Counters) => delta(before, after, key);
  const non2xx = [
    ...expectNone("non-2xx responses (429 included)", facts.non2xx),
    // Without load, every count fits the window: nothing would be shown.
    ...(facts.requests > 0 ? [] : ["wrk completed no requests"]),
  ];
  switch (variant) {
    case "meshgate": {
      const problems = [
        ...expectNone("rate limit decisions without a policy", d("allowed") + d("limited")),
        ...expectNone("mirror copies without a mirror", d("mirrorSent")),
        ...non2xx,
      ];
      return { summary: "no rate limit decisions, no mirror copies", problems };
    }
    case "global limit": {
      const keys = after.redisKeys;
      const problems = [
        ...(keys >= 1 ? [] : [`no meshgate-rl* key in Redis (${Number.isNaN(keys) ? "Redis not read" : "0 keys"})`]),
        ...expectReserved(d("redisCount"), d("allowed"), d("limited")),
        ...expectAll("allowed", d("allowed"), facts),
        ...expectNone("limited (429)", d("limited")),
        ...expectNone("decisions without Redis (insurance or fail-closed)", d("withoutRedis")),
        ...non2xx,
      ];
      const summary =
        `Redis +${d("redisCount")} in ${keys} key(s), allowed +${d("allowed")}, limited +${d("limited")}, ` +
        `without Redis +${d("withoutRedis")}, for ${facts.requests} requests`;
      return { summary, problems };
    }
    case "local limit": {
      const problems = [
        ...expectAll("allowed", d("allowed"), facts),
        ...expectNone("limited (429)", d("limited")),
        ...non2xx,
      ];
      return { summary: `allowed +${d("allowed")}, limited +${d("limited")}, for ${facts.requests} requests`, problems };
    }
    case "mirror 100%": {
      // The "after" status request counts itself; the "before" one was counted in "before".
      const arrived = d("mirrorOriginRequests") - 1;
      const problems = [
        ...expectAll("copies sent", d("mirrorSent"), facts),
        ...expectAll("mirror origin", arrived, facts),
        ...expectNone("copies failed", d("mirrorFailed")),
        ...expectNone("copies skipped", d("mirrorSkipped")),
        ...non2xx,
      ];
      const summary =
        `copies sent +${d("mirrorSent")}, failed +${d("mirrorFailed")}, skipped +${d("mirrorSkipped")}; ` +
        `mirror origin read +${arrived}; for ${facts.requests} requests`;
      return { summary, problems };
    }
  }
}
