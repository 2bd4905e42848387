// The decision state of one cluster, rebuilt for each Snapshot but keeping what it learned:
// endpoints that stay (same address:port) keep their in-flight counts and ejections, and the
// circuit breaker and retry budget keep counting requests that are still in flight.
import type { Cluster } from "../snapshot.js";
import { type Balancer, createBalancer, type PickContext } from "./balancer.js";
import { CircuitBreaker } from "./circuit-breaker.js";
import { EndpointState, endpointKey } from "./endpoint-state.js";
import { OutlierDetector } from "./outlier.js";
import { clusterRetryPolicy, RetryBudget, type RetryPolicy } from "./retry-budget.js";

export class ClusterState {
  readonly endpoints: EndpointState[];
  readonly balancer: Balancer;
  readonly outlier: OutlierDetector;
  readonly retryBudget: RetryBudget;
  /** The cluster's retry config compiled; a rule's own retry replaces it for that rule. */
  readonly retryPolicy: RetryPolicy;
  readonly breaker: CircuitBreaker;

  constructor(
    readonly cfg: Cluster,
    previous?: ClusterState,
  ) {
    const known = new Map<string, EndpointState>();
    for (const ep of previous?.endpoints ?? []) known.set(ep.key, ep);
    const seen = new Set<string>();
    this.endpoints = [];
    for (const endpoint of cfg.endpoints) {
      const key = endpointKey(endpoint);
      // The same address listed twice (two EndpointSlices during a rollout) is one endpoint.
      if (seen.has(key)) continue;
      seen.add(key);
      const kept = known.get(key);
      if (kept !== undefined) kept.endpoint = endpoint;
      this.endpoints.push(kept ?? new EndpointState(endpoint));
    }
    this.balancer = createBalancer(cfg.loadBalancer, this.endpoints);
    this.outlier = new OutlierDetector(cfg.outlier, () => this.endpoints);
    this.retryBudget = previous?.retryBudget ?? new RetryBudget(cfg.retry);
    this.retryBudget.update(cfg.retry);
    this.retryPolicy = clusterRetryPolicy(cfg.retry);
    this.breaker = previous?.breaker ?? new CircuitBreaker(cfg.circuitBreaker);
    this.breaker.update(cfg.circuitBreaker);
  }

  pick(ctx: PickContext, now: number, exclude?: EndpointState): EndpointState | undefined {
    return this.balancer.pick(ctx, now, exclude);
  }
}
