// Chooses where a TLS passthrough connection goes (Gateway API TLSRoute, listener protocol TLS,
// mode Passthrough) from the SNI name alone, and picks one of the route's backends by weight.
//
// Pure: a table is compiled once per configuration, so a connection costs a few map lookups.
// Precedence follows the Gateway API: an exact hostname beats any wildcard, a longer wildcard
// beats a shorter one, a route without hostnames catches the rest, and the earlier route in
// the given order wins a tie.
import type { SecureContext } from "node:tls";

export interface PassthroughBackend {
  address: string;
  port: number;
  weight: number;
  /** The gateway's own terminating app on a shared port: connect from a client alias. */
  handOff?: boolean;
}

export interface PassthroughRoute {
  /** "namespace/name" of the TLSRoute; labels metrics. */
  name: string;
  /** Exact ("a.example.com") or wildcard ("*.example.com"); empty matches every name. */
  hostnames: string[];
  backends: PassthroughBackend[];
  /** TLS ends at the gateway with this context and the decrypted bytes are piped (tls.mode
   * Terminate); absent: the bytes are piped untouched (Passthrough). */
  terminate?: SecureContext;
}

export interface PassthroughMatch {
  route: PassthroughRoute;
  backend: PassthroughBackend;
}

/** A number in [0, 1), like Math.random; tests inject a fixed sequence. */
export type RandomSource = () => number;

interface CompiledRoute {
  route: PassthroughRoute;
  /** Only backends with a positive weight: weight 0 means "send nothing here". */
  backends: PassthroughBackend[];
  /** Running sums of the weights above, for one pass of weighted choice. */
  cumulative: number[];
  total: number;
}

export class PassthroughTable {
  private readonly exact = new Map<string, CompiledRoute>();
  /** Keyed by what follows "*.": "*.example.com" is stored as "example.com". */
  private readonly wildcard = new Map<string, CompiledRoute>();
  private readonly catchAll: CompiledRoute | undefined;

  constructor(
    routes: PassthroughRoute[],
    private readonly random: RandomSource = Math.random,
  ) {
    let catchAll: CompiledRoute | undefined;
    for (const route of routes) {
      const compiled = compile(route);
      if (route.hostnames.length === 0) catchAll ??= compiled;
      for (const hostname of route.hostnames.map((h) => h.toLowerCase())) {
        if (hostname.startsWith("*.")) keepFirst(this.wildcard, hostname.slice(2), compiled);
        else keepFirst(this.exact, hostname, compiled);
      }
    }
    this.catchAll = catchAll;
  }

  /** The route and backend for a ClientHello's server name (undefined when it sent none). A
   * matching route without a usable backend is no match: the connection is refused rather
   * than sent to a less specific route its owner did not pick. */
  match(serverName: string | undefined): PassthroughMatch | undefined {
    const compiled = this.lookup(serverName);
    return compiled === undefined ? undefined : choose(compiled, this.random);
  }

  private lookup(serverName: string | undefined): CompiledRoute | undefined {
    if (serverName === undefined) return this.catchAll;
    // The ClientHello peeker lower-cases and drops a trailing dot already; callers outside it may not.
    const lower = serverName.toLowerCase();
    const name = lower.endsWith(".") ? lower.slice(0, -1) : lower;
    const exact = this.exact.get(name);
    if (exact !== undefined) return exact;
    if (this.wildcard.size > 0) {
      // Each dot starts a shorter suffix, so the first one found is the longest wildcard, and
      // at least one label always stays in front of it ("*.example.com" skips "example.com").
      for (let dot = name.indexOf("."); dot !== -1; dot = name.indexOf(".", dot + 1)) {
        const hit = dot > 0 ? this.wildcard.get(name.slice(dot + 1)) : undefined;
        if (hit !== undefined) return hit;
      }
    }
    return this.catchAll;
  }
}

function compile(route: PassthroughRoute): CompiledRoute {
  // "> 0" also drops negative and NaN weights, which validation should have refused anyway.
  const backends = route.backends.filter((b) => b.weight > 0);
  const cumulative: number[] = [];
  let total = 0;
  for (const backend of backends) cumulative.push((total += backend.weight));
  return { route, backends, cumulative, total };
}

function keepFirst(map: Map<string, CompiledRoute>, key: string, compiled: CompiledRoute): void {
  if (!map.has(key)) map.set(key, compiled);
}

/** Weighted random choice; a linear scan, since a route has a handful of backends. */
function choose(compiled: CompiledRoute, random: RandomSource): PassthroughMatch | undefined {
  const { route, backends, cumulative, total } = compiled;
  if (total === 0) return undefined;
  const target = random() * total;
  for (let i = 0; i < backends.length; i++) {
    const backend = backends[i];
    if (backend !== undefined && target < (cumulative[i] ?? 0)) return { route, backend };
  }
  // Only reached through floating-point rounding at the very top of the range.
  const last = backends[backends.length - 1];
  return last === undefined ? undefined : { route, backend: last };
}
