// Data-plane metrics. Each thread has its own registry; the supervisor merges them on scrape.
// The per-request series are FastCounter/FastHistogram (series.ts); the rest, counted rarely,
// are prom-client's own.
import { Counter, Gauge, Registry } from "prom-client";
import type { MirrorMetrics } from "../mirror/mirror.js";
import type { RedisCallResult } from "../ratelimit/limiter.js";
import type { PassthroughMetrics } from "../passthrough/metrics.js";
import { FastCounter, FastHistogram } from "./series.js";

const REDIS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export type RejectReason =
  | "bad-request"
  | "header-too-large"
  | "uri-too-long"
  | "body-too-large"
  | "header-timeout"
  | "no-route"
  | "misdirected"
  | "draining";

export interface RateLimitMetrics {
  readonly requests: FastCounter;
  readonly fallback: FastCounter;
  /** In-memory counters dropped before their window ended, by kind (local, insurance). */
  readonly evicted: FastCounter;
  /** Every Redis call of a Global limit: its latency, and its failures by kind. */
  redisCall(seconds: number, result: RedisCallResult): void;
}

export class DataPlaneMetrics {
  readonly registry = new Registry();
  private readonly requests = new FastCounter(
    "meshgate_http_requests_total",
    "HTTP requests answered, by gateway, route, backend cluster and status code.",
    ["gateway", "route", "backend", "code"],
    this.registry,
  );
  private readonly duration = new FastHistogram(
    "meshgate_http_request_duration_seconds",
    "Time from the request head to the last response byte, by gateway and route.",
    ["gateway", "route"],
    DURATION_BUCKETS,
    this.registry,
  );
  private readonly upstreamDuration = new FastHistogram(
    "meshgate_upstream_response_time_seconds",
    "Time from sending to an upstream until its response head arrived, by cluster.",
    ["cluster"],
    DURATION_BUCKETS,
    this.registry,
  );
  readonly retries = new Counter({
    name: "meshgate_upstream_retries_total",
    help:
      "Upstream attempts retried, by cluster, route, the policy that decided (rule: the HTTPRoute rule's retry; cluster: BackendTrafficPolicy or default) and cause (the status code, connect-failure, reset or timeout).",
    labelNames: ["cluster", "route", "policy", "cause"] as const,
    registers: [this.registry],
  });
  readonly retryBudgetExhausted = new Counter({
    name: "meshgate_upstream_retry_budget_exhausted_total",
    help: "Retries not attempted because the cluster's retry budget was spent.",
    labelNames: ["cluster"] as const,
    registers: [this.registry],
  });
  readonly overflow = new Counter({
    name: "meshgate_upstream_overflow_total",
    help: "Requests refused with 503 by a cluster limit, by cluster and limit.",
    labelNames: ["cluster", "limit"] as const,
    registers: [this.registry],
  });
  readonly ejections = new Counter({
    name: "meshgate_outlier_ejections_total",
    help: "Endpoints ejected by passive outlier detection, by cluster.",
    labelNames: ["cluster"] as const,
    registers: [this.registry],
  });
  readonly upstreamErrors = new Counter({
    name: "meshgate_upstream_errors_total",
    help: "Upstream attempts that failed, by cluster and kind (connect-failure, reset, timeout).",
    labelNames: ["cluster", "kind"] as const,
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: "meshgate_downstream_rejected_total",
    help: "Client requests refused before routing, by reason.",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly internalErrors = new Counter({
    name: "meshgate_internal_errors_total",
    help: "Exceptions met while handling a request (answered 500, or reset once the head was sent), by where.",
    labelNames: ["where"] as const,
    registers: [this.registry],
  });
  /** Filled in by the data plane: requests in flight, read when the registry is scraped. */
  activeRequestsCollector: () => number = () => 0;
  readonly activeRequests: Gauge = new Gauge({
    name: "meshgate_downstream_active_requests",
    help: "Requests in flight.",
    registers: [this.registry],
    collect: () => this.activeRequests.set(this.activeRequestsCollector()),
  });
  /** Filled in by the data plane: reports open connections when the registry is scraped. */
  connectionsCollector: (gauge: Gauge<"cluster">) => void = () => {};
  readonly upstreamConnections: Gauge<"cluster"> = new Gauge({
    name: "meshgate_upstream_connections",
    help: "Open upstream connections, by cluster.",
    labelNames: ["cluster"] as const,
    registers: [this.registry],
    collect: () => this.connectionsCollector(this.upstreamConnections),
  });

  // A port's node:net front (TLS ports, HTTPS ports shared with TLSRoutes, PROXY-protocol ports
  // of any protocol): what happened on the port before routing is labelled by port, what
  // happened to a TLSRoute's connections by route and mode.
  private readonly tlsRouteConnections = new FastCounter(
    "meshgate_tls_route_connections_total",
    "Connections routed to a TLSRoute by SNI, by TLSRoute and mode (Passthrough, Terminate).",
    ["route", "mode"],
    this.registry,
  );
  private readonly tlsRouteBytes = new FastCounter(
    "meshgate_tls_route_bytes_total",
    "Bytes relayed for TLSRoutes (as sent: encrypted for Passthrough, decrypted for Terminate), by TLSRoute, mode and direction (upstream: client to backend).",
    ["route", "mode", "direction"],
    this.registry,
  );
  private readonly tlsRouteErrors = new FastCounter(
    "meshgate_tls_route_errors_total",
    "TLSRoute connections broken after routing (failed handshakes of Terminate routes included), by TLSRoute, mode and kind.",
    ["route", "mode", "kind"],
    this.registry,
  );
  private readonly frontHandOffs = new FastCounter(
    "meshgate_tcp_front_handoffs_total",
    "Connections a port's TCP front handed to the port's own HTTP(S) listener (HTTPS names on a port shared with TLSRoutes; every connection behind a PROXY-protocol front), by port.",
    ["port"],
    this.registry,
  );
  private readonly frontErrors = new FastCounter(
    "meshgate_tcp_front_errors_total",
    "Connections a port's TCP front refused or lost before a TLSRoute took them, or while handing them to the port's HTTP(S) listener, by port and kind.",
    ["port", "kind"],
    this.registry,
  );
  private readonly proxyRejected = new FastCounter(
    "meshgate_proxy_protocol_rejected_total",
    "Connections closed by a port that expects a PROXY protocol header, by port and reason (bad-header, untrusted-source, timeout).",
    ["port", "reason"],
    this.registry,
  );
  /** Open client connections by port, read on scrape. */
  private readonly frontOpen = new Map<number, number>();
  readonly frontActiveGauge: Gauge<"port"> = new Gauge({
    name: "meshgate_tcp_front_active_connections",
    help: "Client connections open on a port's TCP front (TLS ports, HTTPS ports shared with TLSRoutes, PROXY-protocol ports), by port.",
    labelNames: ["port"] as const,
    registers: [this.registry],
    collect: () => {
      for (const [port, open] of this.frontOpen) this.frontActiveGauge.set({ port }, open);
    },
  });

  /** What the TCP front of `port` reports, into the series above; one per listener. */
  tcpFront(port: number): PassthroughMetrics {
    const label = String(port);
    return {
      connection: (to) => {
        if (to.mode === "hand-off") this.frontHandOffs.inc(label);
        else this.tlsRouteConnections.inc(to.route, to.mode);
      },
      // A hand-off's bytes are the HTTP(S) listener's traffic, counted there by request.
      bytes: (to, direction, n) => {
        if (to.mode !== "hand-off") this.tlsRouteBytes.add(n, to.route, to.mode, direction);
      },
      error: (to, kind) => {
        if (to === undefined || to.mode === "hand-off") this.frontErrors.inc(label, kind);
        else this.tlsRouteErrors.inc(to.route, to.mode, kind);
      },
      proxyRejected: (reason) => this.proxyRejected.inc(label, reason),
      active: (delta) => this.frontOpen.set(port, (this.frontOpen.get(port) ?? 0) + delta),
    };
  }

  private readonly mirrorRequests = new FastCounter(
    "meshgate_mirror_requests_total",
    "RequestMirror copies by HTTPRoute and result: sent, failed_<kind>, skipped_<reason>.",
    ["route", "result"],
    this.registry,
  );

  private readonly mirrorComparisons = new FastCounter(
    "meshgate_mirror_comparisons_total",
    "Shadow comparisons (MirrorComparisonPolicy) of a mirror's answer with the primary's, by HTTPRoute and result (match, mismatch).",
    ["route", "result"],
    this.registry,
  );

  /** What RequestMirror copies report, into the series above. */
  readonly mirror: MirrorMetrics = {
    sent: (route) => this.mirrorRequests.inc(route, "sent"),
    failed: (route, kind) => this.mirrorRequests.inc(route, `failed_${kind}`),
    skipped: (route, reason) => this.mirrorRequests.inc(route, `skipped_${reason}`),
    compared: (route, matched) => this.mirrorComparisons.inc(route, matched ? "match" : "mismatch"),
  };

  private readonly redisDuration = new FastHistogram(
    "meshgate_ratelimit_redis_duration_seconds",
    "Latency of the Redis calls of Global rate limits, answered or not, by result (ok, timeout, unavailable, error).",
    ["result"],
    REDIS_BUCKETS,
    this.registry,
  );
  private readonly redisErrors = new FastCounter(
    "meshgate_ratelimit_redis_errors_total",
    "Redis calls of Global rate limits that failed, by kind (timeout, unavailable, error, overloaded: not sent, too many in flight).",
    ["kind"],
    this.registry,
  );
  /** 1 while the last Global decision of this event loop had to be taken without Redis. */
  private redisFallback = 0;
  readonly redisFallbackGauge: Gauge = new Gauge({
    name: "meshgate_ratelimit_fallback_active",
    help: "1 while Global rate limits are decided without Redis (insurance or fail-closed), in any event loop.",
    registers: [this.registry],
    aggregator: "max",
    collect: () => this.redisFallbackGauge.set(this.redisFallback),
  });

  /** Rate limit decisions, by RateLimitPolicy and rule; fallbacks when Redis could not answer. */
  readonly rateLimit: RateLimitMetrics = {
    redisCall: (seconds, result) => {
      // A call not made (overloaded) has no latency; it is counted with the failures.
      if (result !== "overloaded") this.redisDuration.observe(seconds, result);
      if (result === "ok") {
        this.redisFallback = 0;
      } else {
        this.redisErrors.inc(result);
        this.redisFallback = 1;
      }
    },
    requests: new FastCounter(
      "meshgate_ratelimit_requests_total",
      "Requests a rate limit rule counted, by RateLimitPolicy, rule and result (allowed, limited).",
      ["policy", "rule", "result"],
      this.registry,
    ),
    fallback: new FastCounter(
      "meshgate_ratelimit_fallback_total",
      "Rate limit decisions taken without their counter (Redis for Global limits, the supervisor's ledger for Local ones), by source (insurance, fail-closed).",
      ["source"],
      this.registry,
    ),
    evicted: new FastCounter(
      "meshgate_ratelimit_counters_evicted_total",
      "In-memory rate limit counters dropped before their window ended because their limiter held the most keys it may, by kind (local, insurance).",
      ["kind"],
      this.registry,
    ),
  };

  private readonly faults = new FastCounter(
    "meshgate_fault_injected_total",
    "Requests a BackendTrafficPolicy faultInjection delayed or aborted, by HTTPRoute and kind (delay, abort).",
    ["route", "kind"],
    this.registry,
  );
  private readonly corsPreflights = new FastCounter(
    "meshgate_cors_preflight_total",
    "CORS preflights the gateway answered, by HTTPRoute and result (allowed: 200, denied: 403 for an origin not allowed).",
    ["route", "result"],
    this.registry,
  );

  faultInjected(route: string, kind: "delay" | "abort"): void {
    this.faults.inc(route, kind);
  }

  corsPreflight(route: string, result: "allowed" | "denied"): void {
    this.corsPreflights.inc(route, result);
  }

  /** Counts one answered request and its duration. */
  request(gateway: string, route: string, backend: string, code: number, seconds: number): void {
    this.requests.inc(gateway, route, backend, code);
    this.duration.observe(seconds, gateway, route);
  }

  upstreamResponse(cluster: string, seconds: number): void {
    this.upstreamDuration.observe(seconds, cluster);
  }
}
