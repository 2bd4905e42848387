// Endpoints, request contexts and a replayable random source for the load-balancing tests.
import type { PickContext } from "../../gateway/upstream/balancer.js";
import { EndpointState } from "../../gateway/upstream/endpoint-state.js";

/** Endpoints 10.0.0.1, 10.0.0.2, ... with the given weights; `letter` names them a, b, c... */
export function endpoints(weights: readonly number[]): EndpointState[] {
  return weights.map((weight, i) => new EndpointState({ address: `10.0.0.${i + 1}`, port: 8080, weight }));
}

export function letter(ep: EndpointState | undefined): string {
  if (ep === undefined) return "-";
  return String.fromCharCode(96 + Number(ep.endpoint.address.split(".")[3]));
}

export function ctx(headers: Record<string, string> = {}, sourceIp = "192.0.2.10"): PickContext {
  return { headers, sourceIp };
}

/** mulberry32: a small seeded generator, uniform in [0, 1), so statistical tests replay exactly. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How many of `picks` calls chose each endpoint, by letter. */
export function tally(picks: number, pick: () => EndpointState | undefined): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < picks; i++) {
    const name = letter(pick());
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}
