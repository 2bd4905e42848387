// RequestMirror filters of a Snapshot made live: each mirror of a route action becomes a Mirror
// whose copies go to an endpoint its cluster's load balancer picks, on that endpoint's pool.
// Built once per Snapshot; the proxy only starts copies (startCopies) for actions that have any.
import type { ClusterRuntime } from "../http/context.js";
import type { RouteAction } from "../snapshot.js";
import type { BodyTee } from "./body-tee.js";
import { Mirror, type MirrorDispatcher, type MirrorMetrics, type MirrorRequest } from "./mirror.js";
import type { H1DispatchHandler, H1DispatchOptions } from "../upstream/h1/pool.js";

/** Bounds per mirror: a copy's answer is waited for this long, and memory stays under maxInFlight * maxBodyBytes. */
export const MIRROR_LIMITS = { timeoutMs: 10_000, maxBodyBytes: 1024 * 1024, maxInFlight: 256 } as const;

class NoEndpointError extends Error {
  readonly code = "ENOTFOUND";
  constructor(cluster: string) {
    super(`mirror cluster ${cluster} has no endpoint`);
  }
}

/** Dispatches on the pool of the endpoint the cluster's balancer picks for this copy. */
class ClusterDispatcher implements MirrorDispatcher {
  constructor(private readonly cluster: ClusterRuntime) {}

  dispatch(opts: H1DispatchOptions, handler: H1DispatchHandler): boolean {
    const ep = this.cluster.state.pick({ headers: opts.headers, sourceIp: "" }, Date.now());
    if (ep === undefined) throw new NoEndpointError(this.cluster.name);
    return this.cluster.pool(ep).dispatch(opts, handler);
  }
}

/** The factory PortRouter calls per action: mirrors whose cluster is unknown are left out. */
export function mirrorFactory(
  clusters: ReadonlyMap<string, ClusterRuntime>,
  metrics: MirrorMetrics,
): (action: RouteAction) => Mirror[] {
  return (action) => {
    const out: Mirror[] = [];
    for (const m of action.mirrors) {
      const cluster = clusters.get(m.cluster);
      if (cluster === undefined) continue;
      out.push(
        new Mirror({
          route: action.route,
          pool: new ClusterDispatcher(cluster),
          metrics,
          probability: m.probability,
          ...MIRROR_LIMITS,
        }),
      );
    }
    return out;
  };
}

/** What ClientBody tells about the body it receives; chunks are only valid during the call. */
export interface BodyObserver {
  write(chunk: ArrayBuffer): void;
  end(): void;
  abort(): void;
}

/** Several tees fed as one. */
class TeeFanOut implements BodyObserver {
  constructor(private readonly tees: readonly BodyTee[]) {}
  write(chunk: ArrayBuffer): void {
    for (const tee of this.tees) tee.write(chunk);
  }
  end(): void {
    for (const tee of this.tees) tee.end();
  }
  abort(): void {
    for (const tee of this.tees) tee.abort();
  }
}

/**
 * Starts a copy per mirror. Returns the observer the request body must be fed to, or undefined
 * when there is no body to copy (no body, or no mirror sampled this request).
 */
export function startCopies(
  mirrors: readonly Mirror[],
  req: MirrorRequest,
  hasBody: boolean,
  contentLength: string | undefined,
): BodyObserver | undefined {
  const tees: BodyTee[] = [];
  for (const mirror of mirrors) {
    const tee = mirror.begin(req, hasBody)?.body;
    if (tee == null) continue;
    if (contentLength !== undefined) tee.declare(Number(contentLength));
    tees.push(tee);
  }
  if (tees.length === 0) return undefined;
  return tees.length === 1 ? (tees[0] as BodyTee) : new TeeFanOut(tees);
}
