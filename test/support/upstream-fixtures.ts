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

/** How many of `picks` calls chose each endpoint, by letter. */
export function tally(picks: number, pick: () => EndpointState | undefined): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < picks; i++) {
    const name = letter(pick());
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}
