// Consistent hashing on a Ketama-style ring: each endpoint owns 100 points per unit of weight,
// so removing an endpoint moves only the keys that hashed to its points, and a key's endpoint
// is found by binary search (O(log points)).
//
// A request without the key (header or cookie absent or empty, no source address) has no
// affinity to keep: it is spread by weighted round robin. An ejected or excluded owner is
// passed over for the next endpoint clockwise, so its keys scatter over the others and come
// back when it does.
import type { LoadBalancerConfig } from "../../snapshot.js";
import type { Balancer, PickContext } from "../balancer.js";
import type { EndpointState } from "../endpoint-state.js";
import { admits, slowPathMode } from "./eligible.js";
import { cookieValue, hash32 } from "./hash-key.js";

export type HashOn = Extract<LoadBalancerConfig, { type: "ConsistentHash" }>["hashOn"];

const POINTS_PER_WEIGHT = 100;
/** Ring size bound (8 bytes a point); heavier clusters get fewer points per weight unit. */
const MAX_POINTS = 1 << 18;
/** Points walked before checking whether any endpoint is admitted at all. */
const FAST_WALK = 32;
/** Packs a point's owner index below its hash in one float64, so one numeric sort orders both. */
const OWNER_SPACE = 2 ** 21;

export class ConsistentHash implements Balancer {
  private readonly ring: Uint32Array;
  private readonly owners: Uint32Array;
  private readonly headerName: string;

  constructor(
    private readonly endpoints: readonly EndpointState[],
    private readonly hashOn: HashOn,
    private readonly fallback: Balancer,
  ) {
    this.headerName = hashOn.type === "SourceIP" ? "" : hashOn.name.toLowerCase();
    let weight = 0;
    for (const ep of endpoints) weight += ep.endpoint.weight;
    const perWeight = Math.min(POINTS_PER_WEIGHT, MAX_POINTS / Math.max(weight, 1));
    const counts = endpoints.map((ep) => Math.max(1, Math.floor(perWeight * ep.endpoint.weight)));
    const packed = new Float64Array(counts.reduce((a, b) => a + b, 0));
    let k = 0;
    endpoints.forEach((ep, owner) => {
      for (let v = 0; v < counts[owner]!; v++) packed[k++] = hash32(`${ep.key}#${v}`) * OWNER_SPACE + owner;
    });
    packed.sort();
    this.ring = new Uint32Array(packed.length);
    this.owners = new Uint32Array(packed.length);
    for (let i = 0; i < packed.length; i++) {
      const owner = packed[i]! % OWNER_SPACE;
      this.owners[i] = owner;
      this.ring[i] = (packed[i]! - owner) / OWNER_SPACE;
    }
  }

  pick(ctx: PickContext, now: number, exclude?: EndpointState): EndpointState | undefined {
    const key = this.keyOf(ctx);
    if (key === undefined || key === "" || this.ring.length === 0)
      return this.fallback.pick(ctx, now, exclude);
    const start = this.firstPointAtOrAfter(hash32(key));
    const quick = this.walk(start, Math.min(FAST_WALK, this.ring.length), now, exclude, false);
    if (quick !== undefined) return quick;
    const mode = slowPathMode(this.endpoints, now, exclude);
    if (mode === "only-excluded") return exclude;
    return this.walk(start, this.ring.length, now, exclude, mode === "panic") ?? exclude;
  }

  private keyOf(ctx: PickContext): string | undefined {
    switch (this.hashOn.type) {
      case "Header":
        return ctx.headers[this.headerName];
      case "Cookie":
        return cookieValue(ctx.headers["cookie"], this.hashOn.name);
      case "SourceIP":
        return ctx.sourceIp;
    }
  }

  /** Index of the first ring point >= h, wrapping to 0 past the last. */
  private firstPointAtOrAfter(h: number): number {
    const ring = this.ring;
    let lo = 0;
    let hi = ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ring[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === ring.length ? 0 : lo;
  }

  private walk(
    start: number,
    steps: number,
    now: number,
    exclude: EndpointState | undefined,
    panic: boolean,
  ): EndpointState | undefined {
    const len = this.ring.length;
    for (let k = 0, i = start; k < steps; k++, i = i + 1 === len ? 0 : i + 1) {
      const ep = this.endpoints[this.owners[i]!]!;
      if (admits(ep, now, exclude, panic)) return ep;
    }
    return undefined;
  }
}
