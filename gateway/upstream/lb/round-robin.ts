// Smooth weighted round robin, nginx's algorithm: weights 5,1,1 give a a b a c a a, spreading
// a heavy endpoint's turns instead of sending them in a burst.
//
// nginx walks every endpoint on every pick. Here one period of the sequence is computed ahead
// into a schedule, so a pick is one array step. The schedule covers the endpoints admitted when
// it was built; it is rebuilt when a scheduled endpoint turns out to be ejected or when a
// left-out one is due back, both rare next to picks.
import type { Balancer, PickContext } from "../balancer.js";
import type { EndpointState } from "../endpoint-state.js";

/** Longest schedule kept; larger weight sums are scaled down to it. */
const MAX_PERIOD = 1 << 16;
/** Bound on endpoint visits spent building a schedule (O(endpoints x period)). */
const BUILD_WORK = 1 << 21;

export class SmoothRoundRobin implements Balancer {
  private schedule = new Uint32Array(0);
  private cursor: number;
  /** Distinct endpoints in the schedule. */
  private members = 0;
  /** Every endpoint is ejected, so the schedule covers them all. */
  private panic = false;
  /** When the earliest left-out endpoint's ejection runs out; the first pick builds. */
  private rebuildAt = Number.NEGATIVE_INFINITY;

  /** `start`: the schedule position to begin at (modulo its length), so replicas do not move in step. */
  constructor(
    private readonly endpoints: readonly EndpointState[],
    start = 0,
  ) {
    this.cursor = start;
  }

  pick(_ctx: PickContext, now: number, exclude?: EndpointState): EndpointState | undefined {
    if (now >= this.rebuildAt) this.rebuild(now);
    let skipped = 0;
    while (this.schedule.length > 0) {
      const ep = this.endpoints[this.schedule[this.cursor]!]!;
      if (++this.cursor === this.schedule.length) this.cursor = 0;
      if (!this.panic && ep.ejectedUntil > now) {
        // Each such rebuild leaves out at least one more endpoint, so this loop ends.
        this.rebuild(now);
        skipped = 0;
        continue;
      }
      if (ep !== exclude || this.members < 2 || ++skipped >= this.schedule.length) return ep;
    }
    return undefined;
  }

  private rebuild(now: number): void {
    const eps = this.endpoints;
    const members: number[] = [];
    let rebuildAt = Number.POSITIVE_INFINITY;
    for (let i = 0; i < eps.length; i++) {
      const until = eps[i]!.ejectedUntil;
      if (until <= now) members.push(i);
      else if (until < rebuildAt) rebuildAt = until;
    }
    this.panic = members.length === 0;
    if (this.panic) for (let i = 0; i < eps.length; i++) members.push(i);
    const order = smoothSchedule(members.map((i) => eps[i]!.endpoint.weight));
    const before = this.schedule.length;
    // Carry the position over in proportion, so a rebuild does not restart at the heaviest endpoint.
    this.cursor =
      order.length === 0
        ? 0
        : before === 0
          ? this.cursor % order.length
          : Math.floor((this.cursor * order.length) / before);
    this.schedule = order.map((position) => members[position]!);
    this.members = members.length;
    this.rebuildAt = rebuildAt;
  }
}

/** One period of nginx's smooth weighted sequence, as positions into `weights`. */
export function smoothSchedule(weights: readonly number[]): Uint32Array {
  const w = reducedWeights(weights);
  const n = w.length;
  let total = 0;
  for (const x of w) total += x;
  const order = new Uint32Array(total);
  if (total === n) {
    // Equal weights: the sequence is plain order, no need to simulate it.
    for (let s = 0; s < n; s++) order[s] = s;
    return order;
  }
  const current = new Float64Array(n);
  for (let s = 0; s < total; s++) {
    let best = 0;
    for (let i = 0; i < n; i++) {
      current[i]! += w[i]!;
      if (current[i]! > current[best]!) best = i;
    }
    current[best]! -= total;
    order[s] = best;
  }
  return order;
}

/**
 * Weights divided by their common divisor (1,1,1 and 3,3,3 give the same sequence), then
 * scaled down, each kept at 1 or more, when the period would be too long to build or hold.
 */
function reducedWeights(weights: readonly number[]): number[] {
  const n = weights.length;
  let g = 0;
  let total = 0;
  for (const x of weights) {
    g = gcd(g, x);
    total += x;
  }
  if (n === 0) return [];
  let w = weights.map((x) => x / g);
  total /= g;
  const limit = Math.min(MAX_PERIOD, Math.max(n, Math.floor(BUILD_WORK / n)));
  if (total > limit) w = w.map((x) => Math.max(1, Math.round((x * limit) / total)));
  return w;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
