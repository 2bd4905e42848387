// Weighted random choice: an O(1) alias-table draw, redrawn a few times when it lands on an
// ejected or excluded endpoint, then a linear weighted draw over the admitted ones.
import type { Balancer, PickContext } from "../balancer.js";
import type { EndpointState } from "../endpoint-state.js";
import { AliasTable } from "./alias-table.js";
import { admits, slowPathMode } from "./eligible.js";

const FAST_DRAWS = 4;

export class WeightedRandom implements Balancer {
  private readonly table: AliasTable;

  constructor(
    private readonly endpoints: readonly EndpointState[],
    private readonly random: () => number = Math.random,
  ) {
    this.table = new AliasTable(endpoints.map((ep) => ep.endpoint.weight));
  }

  pick(_ctx: PickContext, now: number, exclude?: EndpointState): EndpointState | undefined {
    const eps = this.endpoints;
    if (eps.length <= 1) return eps[0];
    for (let draw = 0; draw < FAST_DRAWS; draw++) {
      const ep = eps[this.table.sample(this.random())]!;
      if (admits(ep, now, exclude, false)) return ep;
    }
    const mode = slowPathMode(eps, now, exclude);
    if (mode === "only-excluded") return exclude;
    return weightedAmong(eps, now, exclude, mode === "panic", this.random()) ?? exclude;
  }
}

/** A weighted draw among the endpoints `admits` accepts, in two passes. */
function weightedAmong(
  eps: readonly EndpointState[],
  now: number,
  exclude: EndpointState | undefined,
  panic: boolean,
  u: number,
): EndpointState | undefined {
  let total = 0;
  for (const ep of eps) if (admits(ep, now, exclude, panic)) total += ep.endpoint.weight;
  let point = u * total;
  let last: EndpointState | undefined;
  for (const ep of eps) {
    if (!admits(ep, now, exclude, panic)) continue;
    last = ep;
    point -= ep.endpoint.weight;
    if (point < 0) return ep;
  }
  return last;
}
