// Least request by the power of N choices (Envoy's default N = 2): draw N endpoints by weight
// and take the one with the fewest requests in flight per unit of weight. With N or fewer
// endpoints every one is compared. Ties go to the first drawn, which is a weighted draw, so
// an idle cluster still spreads by weight instead of always picking the first endpoint.
import type { Balancer, PickContext } from "../balancer.js";
import type { EndpointState } from "../endpoint-state.js";
import { AliasTable } from "./alias-table.js";
import { admits, slowPathMode } from "./eligible.js";

export class LeastRequest implements Balancer {
  private readonly table: AliasTable;

  constructor(
    private readonly endpoints: readonly EndpointState[],
    private readonly choices = 2,
    private readonly random: () => number = Math.random,
  ) {
    this.table = new AliasTable(endpoints.map((ep) => ep.endpoint.weight));
  }

  pick(_ctx: PickContext, now: number, exclude?: EndpointState): EndpointState | undefined {
    const eps = this.endpoints;
    if (eps.length <= 1) return eps[0];
    const best =
      eps.length <= this.choices
        ? this.leastFrom(this.draw(), now, exclude, false)
        : this.sampled(now, exclude);
    if (best !== undefined) return best;
    const mode = slowPathMode(eps, now, exclude);
    if (mode === "only-excluded") return exclude;
    return this.leastFrom(this.draw(), now, exclude, mode === "panic") ?? exclude;
  }

  private draw(): number {
    return this.table.sample(this.random());
  }

  /** The lightest of `choices` admitted draws; draws of unadmitted endpoints are redone, within a bound. */
  private sampled(now: number, exclude: EndpointState | undefined): EndpointState | undefined {
    let best: EndpointState | undefined;
    let found = 0;
    for (let draws = 0; found < this.choices && draws < this.choices * 2; draws++) {
      const ep = this.endpoints[this.draw()]!;
      if (!admits(ep, now, exclude, false)) continue;
      found++;
      if (best === undefined || lighter(ep, best)) best = ep;
    }
    return best;
  }

  /** The lightest endpoint of all, scanning round from `start` so ties favour it. */
  private leastFrom(
    start: number,
    now: number,
    exclude: EndpointState | undefined,
    panic: boolean,
  ): EndpointState | undefined {
    const eps = this.endpoints;
    let best: EndpointState | undefined;
    for (let k = 0, i = start; k < eps.length; k++, i = i + 1 === eps.length ? 0 : i + 1) {
      const ep = eps[i]!;
      if (admits(ep, now, exclude, panic) && (best === undefined || lighter(ep, best))) best = ep;
    }
    return best;
  }
}

/** active/weight of `a` below that of `b`, cross-multiplied to stay in integers. */
function lighter(a: EndpointState, b: EndpointState): boolean {
  return a.active * b.endpoint.weight < b.active * a.endpoint.weight;
}
