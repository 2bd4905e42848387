// Load balancers: choose an endpoint per request in O(1) or O(log n). Every balancer follows
// the same rules for ejected endpoints, panic mode and a retry's `exclude` (lb/eligible.ts).
import type { LoadBalancerConfig } from "../snapshot.js";
import type { EndpointState } from "./endpoint-state.js";
import { ConsistentHash } from "./lb/consistent-hash.js";
import { LeastRequest } from "./lb/least-request.js";
import { WeightedRandom } from "./lb/random.js";
import { SmoothRoundRobin } from "./lb/round-robin.js";

export { ConsistentHash } from "./lb/consistent-hash.js";
export { cookieValue, hash32 } from "./lb/hash-key.js";
export { LeastRequest } from "./lb/least-request.js";
export { WeightedRandom } from "./lb/random.js";
export { SmoothRoundRobin } from "./lb/round-robin.js";

/** What a balancer may read from the request. Header names are lower case. */
export interface PickContext {
  headers: Record<string, string>;
  sourceIp: string;
}

export interface Balancer {
  /**
   * An endpoint for this request, or undefined only when the cluster has none. `exclude` is
   * avoided when another admitted endpoint exists (a retry should not go back to the endpoint
   * that just failed); `now` is epoch ms, compared with ejection deadlines.
   */
  pick(ctx: PickContext, now: number, exclude?: EndpointState): EndpointState | undefined;
}

/** `random` (uniform in [0, 1)) is injectable so tests can replay a sequence. */
export function createBalancer(
  cfg: LoadBalancerConfig,
  endpoints: EndpointState[],
  random: () => number = Math.random,
): Balancer {
  switch (cfg.type) {
    case "RoundRobin":
      return roundRobin(endpoints, random);
    case "LeastRequest":
      return new LeastRequest(endpoints, cfg.choices, random);
    case "Random":
      return new WeightedRandom(endpoints, random);
    case "ConsistentHash":
      return new ConsistentHash(endpoints, cfg.hashOn, roundRobin(endpoints, random));
  }
}

/**
 * Starts at a random point of the sequence, so gateway replicas that load the same Snapshot
 * together do not all send their first requests to the same endpoint.
 */
function roundRobin(endpoints: EndpointState[], random: () => number): SmoothRoundRobin {
  let weight = 0;
  for (const ep of endpoints) weight += ep.endpoint.weight;
  return new SmoothRoundRobin(endpoints, Math.floor(random() * weight));
}
