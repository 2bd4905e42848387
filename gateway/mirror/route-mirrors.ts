// RequestMirror filters of a Snapshot made live: each mirror of a route action becomes a Mirror
// whose copies go to an endpoint its cluster's load balancer picks, on that endpoint's pool.
// Built once per Snapshot; the proxy only starts copies (startCopies) for actions that have any.
import type { ClusterRuntime } from "../http/context.js";
import type { MirrorCompareConfig, RouteAction } from "../snapshot.js";
import type { EventLog } from "../telemetry/event-log.js";
import type { BodyTee } from "./body-tee.js";
import {
  Mirror,
  type MirrorCompare,
  type MirrorCopy,
  type MirrorDispatcher,
  type MirrorMetrics,
  type MirrorRequest,
} from "./mirror.js";
import { PrimaryDigest } from "./primary-digest.js";
import { type CompareRequest, type MismatchSample, ShadowCompare } from "./shadow-compare.js";
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

/**
 * Logs at most `perMinute` mismatches of a route each minute, and how many were left out since
 * the last line. Bodies are never logged: only their hashes.
 */
class MismatchLog {
  private windowStart = 0;
  private logged = 0;
  private suppressed = 0;

  constructor(
    private readonly policy: string,
    private readonly perMinute: number,
    private readonly log: EventLog | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  mismatch(route: string, sample: MismatchSample, request: CompareRequest | undefined): void {
    if (this.log === undefined) return;
    const now = this.now();
    if (now - this.windowStart >= 60_000) {
      this.windowStart = now;
      this.logged = 0;
    }
    if (this.logged >= this.perMinute) {
      this.suppressed++;
      return;
    }
    this.logged++;
    const path = request?.path;
    this.log.warn(
      {
        type: "mirror-mismatch",
        route,
        policy: this.policy,
        method: request?.method,
        // The query may carry credentials: only the path is logged.
        path: path === undefined ? undefined : path.split("?", 1)[0],
        differences: sample.differences,
        primary: sample.primary,
        mirror: sample.mirror,
        suppressed_before: this.suppressed,
      },
      "mirror answered differently from the primary",
    );
    this.suppressed = 0;
  }
}

/** A route's shadow comparison: counted per route, mismatches logged within the policy's bound. */
function comparison(cfg: MirrorCompareConfig, metrics: MirrorMetrics, log: EventLog | undefined): MirrorCompare {
  const mismatches = new MismatchLog(cfg.policy, cfg.logPerMinute, log);
  const store = new ShadowCompare({
    headerNames: cfg.headers,
    // The metrics and the log are where results go; the store keeps no samples of its own.
    sampleSize: 0,
    onCompared: (route, differences, sample, request) => {
      metrics.compared(route, differences.length === 0);
      if (differences.length > 0) mismatches.mismatch(route, sample, request);
    },
  });
  return { store, maxHashBytes: cfg.maxBodyBytes };
}

/** The factory PortRouter calls per action: mirrors whose cluster is unknown are left out. */
export function mirrorFactory(
  clusters: ReadonlyMap<string, ClusterRuntime>,
  metrics: MirrorMetrics,
  log?: EventLog,
): (action: RouteAction) => Mirror[] {
  return (action) => {
    const compare = action.mirrorCompare === undefined ? undefined : comparison(action.mirrorCompare, metrics, log);
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
          ...(compare === undefined ? {} : { compare }),
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

/** What the proxy feeds as a mirrored request proceeds: its body, and the primary's response. */
export interface MirrorStart {
  /** Undefined when there is no body to copy (no body, or no copy sampled). */
  readonly body: BodyObserver | undefined;
  /** With shadow comparison, where the primary's response goes; undefined otherwise. */
  readonly primary: PrimaryDigest | undefined;
}

/** Starts a copy per mirror; undefined when no mirror sampled this request. */
export function startCopies(
  mirrors: readonly Mirror[],
  req: MirrorRequest,
  hasBody: boolean,
  contentLength: string | undefined,
): MirrorStart | undefined {
  const tees: BodyTee[] = [];
  let compared: MirrorCopy[] | undefined;
  let compare: MirrorCompare | undefined;
  for (const mirror of mirrors) {
    const copy = mirror.begin(req, hasBody);
    if (copy === null) continue;
    if (mirror.compare !== undefined) {
      compare = mirror.compare;
      (compared ??= []).push(copy);
    }
    const tee = copy.body;
    if (tee === null) continue;
    if (contentLength !== undefined) tee.declare(Number(contentLength));
    tees.push(tee);
  }
  const body = tees.length === 0 ? undefined : tees.length === 1 ? (tees[0] as BodyTee) : new TeeFanOut(tees);
  const primary =
    compared === undefined || compare === undefined
      ? undefined
      : new PrimaryDigest(compared, compare.store.headerNames, compare.maxHashBytes);
  if (body === undefined && primary === undefined) return undefined;
  return { body, primary };
}
