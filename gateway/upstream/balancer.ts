// Load balancers: pick an endpoint per request in O(1) or O(log n), skipping ejected endpoints
// unless all are ejected (panic mode: as Envoy, spreading over all beats failing every request).
import type { LoadBalancerConfig } from "../snapshot.js";
import type { EndpointState } from "./endpoint-state.js";

export interface PickContext {
  headers: Record<string, string>;
  sourceIp: string;
}

export interface Balancer {
  pick(ctx: PickContext, now: number, exclude?: EndpointState): EndpointState | undefined;
}

export function createBalancer(cfg: LoadBalancerConfig, endpoints: EndpointState[]): Balancer {
  switch (cfg.type) {
    case "RoundRobin":
      return new SmoothRoundRobin(endpoints);
    case "LeastRequest":
      return new LeastRequest(endpoints, cfg.choices);
    case "Random":
      return new WeightedRandom(endpoints);
    case "ConsistentHash":
      return new ConsistentHash(endpoints, cfg.hashOn, new SmoothRoundRobin(endpoints));
  }
}

function usable(ep: EndpointState, now: number, exclude: EndpointState | undefined): boolean {
  return ep !== exclude && ep.ejectedUntil <= now;
}

/** nginx's smooth weighted round robin: weights 5,1,1 give a a b a c a a. */
export class SmoothRoundRobin implements Balancer {
  constructor(private readonly endpoints: EndpointState[]) {}

  pick(_ctx: PickContext, now: number, exclude?: EndpointState): EndpointState | undefined {
    const eps = this.endpoints;
    if (eps.length === 1) return eps[0];
    let best = this.choose(now, exclude);
    // Panic mode: every endpoint is ejected (or excluded), so ignore ejection.
    if (best === undefined)
      best =
        this.choose(Number.POSITIVE_INFINITY, exclude) ?? this.choose(Number.POSITIVE_INFINITY, undefined);
    return best;
  }

  private choose(now: number, exclude: EndpointState | undefined): EndpointState | undefined {
    let total = 0;
    let best: EndpointState | undefined;
    for (const ep of this.endpoints) {
      if (!usable(ep, now, exclude)) continue;
      ep.currentWeight += ep.endpoint.weight;
      total += ep.endpoint.weight;
      if (best === undefined || ep.currentWeight > best.currentWeight) best = ep;
    }
    if (best !== undefined) best.currentWeight -= total;
    return best;
  }
}

/** Power of N choices on in-flight requests, weighted by endpoint weight. */
export class LeastRequest implements Balancer {
  constructor(
    private readonly endpoints: EndpointState[],
    private readonly choices: number,
  ) {}

  pick(_ctx: PickContext, now: number, exclude?: EndpointState): EndpointState | undefined {
    const eps = this.endpoints;
    if (eps.length <= 1) return eps[0];
    let best: EndpointState | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    const consider = (ep: EndpointState) => {
      const load = ep.active / ep.endpoint.weight;
      if (load < bestLoad) {
        best = ep;
        bestLoad = load;
      }
    };
    if (eps.length <= this.choices) {
      for (const ep of eps) if (usable(ep, now, exclude)) consider(ep);
    } else {
      for (let i = 0; i < this.choices * 2 && i < eps.length * 2; i++) {
        const ep = eps[Math.floor(Math.random() * eps.length)];
        if (ep !== undefined && usable(ep, now, exclude)) consider(ep);
        if (i + 1 >= this.choices && best !== undefined) break;
      }
    }
    if (best === undefined) for (const ep of eps) if (usable(ep, now, exclude)) consider(ep);
    if (best === undefined) for (const ep of eps) consider(ep);
    return best;
  }
}

export class WeightedRandom implements Balancer {
  private readonly total: number;
  constructor(private readonly endpoints: EndpointState[]) {
    this.total = endpoints.reduce((s, ep) => s + ep.endpoint.weight, 0);
  }

  pick(_ctx: PickContext, now: number, exclude?: EndpointState): EndpointState | undefined {
    const eps = this.endpoints;
    for (let attempt = 0; attempt < 3; attempt++) {
      let point = Math.random() * this.total;
      for (const ep of eps) {
        point -= ep.endpoint.weight;
        if (point < 0) {
          if (usable(ep, now, exclude)) return ep;
          break;
        }
      }
    }
    return eps.find((ep) => usable(ep, now, exclude)) ?? eps.find((ep) => ep !== exclude) ?? eps[0];
  }
}

/** FNV-1a, 32 bits: fast and well spread for short keys. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Finalise (murmur3 fmix) so nearby keys spread over the ring.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const VNODES_PER_WEIGHT = 100;

/**
 * Ketama-style ring: each endpoint owns 100 points per weight unit, so removing one endpoint
 * moves only the keys it owned. Requests without the hash key are spread by round robin.
 */
export class ConsistentHash implements Balancer {
  private readonly ring: Uint32Array;
  private readonly owners: EndpointState[];

  constructor(
    private readonly endpoints: EndpointState[],
    private readonly hashOn: Extract<LoadBalancerConfig, { type: "ConsistentHash" }>["hashOn"],
    private readonly fallback: Balancer,
  ) {
    const points: [number, EndpointState][] = [];
    for (const ep of endpoints) {
      for (let i = 0; i < VNODES_PER_WEIGHT * ep.endpoint.weight; i++)
        points.push([hash32(`${ep.key}#${i}`), ep]);
    }
    points.sort((a, b) => a[0] - b[0]);
    this.ring = Uint32Array.from(points.map((p) => p[0]));
    this.owners = points.map((p) => p[1]);
  }

  private keyOf(ctx: PickContext): string | undefined {
    switch (this.hashOn.type) {
      case "Header":
        return ctx.headers[this.hashOn.name.toLowerCase()];
      case "Cookie":
        return cookieValue(ctx.headers["cookie"], this.hashOn.name);
      case "SourceIP":
        return ctx.sourceIp;
    }
  }

  pick(ctx: PickContext, now: number, exclude?: EndpointState): EndpointState | undefined {
    const key = this.keyOf(ctx);
    if (key === undefined || this.ring.length === 0) return this.fallback.pick(ctx, now, exclude);
    const h = hash32(key);
    let lo = 0;
    let hi = this.ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ring[mid] ?? 0) < h) lo = mid + 1;
      else hi = mid;
    }
    // Walk clockwise past ejected or excluded owners; all unusable means panic: take the owner.
    for (let i = 0; i < this.owners.length; i++) {
      const ep = this.owners[(lo + i) % this.owners.length];
      if (ep !== undefined && usable(ep, now, exclude)) return ep;
    }
    return this.owners[lo % this.owners.length];
  }

  get size(): number {
    return this.endpoints.length;
  }
}
