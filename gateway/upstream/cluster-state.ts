// The decision state of one cluster, rebuilt per Snapshot but keeping what it learned: endpoint
// ejections and in-flight counts, and the circuit breaker's counters.
import type { Cluster } from "../snapshot.js";
import { type Balancer, createBalancer, type PickContext } from "./balancer.js";
import { CircuitBreaker } from "./circuit-breaker.js";
import { EndpointState } from "./endpoint-state.js";
import { OutlierDetector } from "./outlier.js";
import { RetryBudget } from "./retry-budget.js";

export class ClusterState {
  readonly endpoints: EndpointState[];
  readonly balancer: Balancer;
  readonly outlier: OutlierDetector;
  readonly retryBudget: RetryBudget;
  readonly breaker: CircuitBreaker;

  constructor(
    readonly cfg: Cluster,
    previous?: ClusterState,
  ) {
    const known = new Map(previous?.endpoints.map((ep) => [ep.key, ep]));
    this.endpoints = cfg.endpoints.map((e) => {
      const kept = known.get(`${e.address}:${e.port}`);
      if (kept === undefined) return new EndpointState(e);
      kept.endpoint = e;
      return kept;
    });
    this.balancer = createBalancer(cfg.loadBalancer, this.endpoints);
    this.outlier = new OutlierDetector(cfg.outlier, () => this.endpoints);
    this.retryBudget = previous?.retryBudget ?? new RetryBudget(cfg.retry);
    this.retryBudget.update(cfg.retry);
    this.breaker = previous?.breaker ?? new CircuitBreaker(cfg.circuitBreaker);
    this.breaker.update(cfg.circuitBreaker);
  }

  pick(ctx: PickContext, now: number, exclude?: EndpointState): EndpointState | undefined {
    return this.balancer.pick(ctx, now, exclude);
  }
}
