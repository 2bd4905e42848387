// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it
// (@kubernetes/client-node 1.4 has none). Every controller replica runs one LeaseElector on the
// same Lease; one of them leads (writes status, provisions), the others keep their caches warm.
//
//   const elector = new LeaseElector({
//     request, contextNamespace,  // the API connection (KubeClient.json) and its context's namespace
//     logger, registry,
//     namespace, name,            // default: the pod's namespace, "meshgate-controller"
//     identity, timings, clock,   // default: POD_NAME or host name + pid + random; 12/8/2 s
//     onStartedLeading(signal) {}, // signal aborts the moment leadership ends
//     onStoppedLeading(loss) {},   // loss.reason: "renew-deadline" | "lost-lease" | "stopped"
//     onNewLeader(identity) {},    // a new holder was seen on the Lease (this one included)
//   });
//   elector.start();              // campaigns in the background until stop()
//   elector.isLeader();           // true between onStartedLeading and onStoppedLeading
//   elector.leader();             // the holder last seen on the Lease, "" when none
//   await elector.stop();         // stops leading (callback first), then releases the Lease
//
// How it decides (client-go's rules):
// - A candidate reads the Lease every retryPeriod (shortened by up to 20% at random). It creates
//   the Lease when there is none, and takes it when nobody holds it, or when the record has not
//   changed for leaseDurationSeconds measured on ITS OWN clock from when it saw the record change
//   (never from the remote renewTime: clocks differ between nodes). Every write is a replace with
//   the resourceVersion it read: a 409 means another candidate won. Taking over counts
//   leaseTransitions up.
// - The leader renews every retryPeriod. When no renewal has succeeded for renewDeadline, counted
//   from when the last successful one was sent, it stops leading at once (a timer, not the next
//   loop turn), before its lease can have run out for anyone else (leaseDuration > renewDeadline).
//   Seeing another holder on the Lease stops it at once too. It keeps campaigning afterwards.
// - stop() releases the Lease (holder cleared, leaseDurationSeconds 1): a candidate takes it on its
//   next look, within one retryPeriod.
// - Nothing escapes the loop: API failures (403 from RBAC, 5xx, connection refused, a restarting
//   API server, timeouts) are counted in meshgate_leader_election_errors_total{reason}, logged
//   once per change of reason, and retried. meshgate_leader{lease} is 1 while leading.
// Leadership does not fence: a stalled process can lead a moment too long. Writes made as leader
// must be compare-then-write (resourceVersion) or server-side apply, so an overlap converges.
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { type ApiFailure, describeApiError } from "./api-errors.js";
import { DEFAULT_LEASE_NAME, defaultIdentity, defaultLeaseNamespace } from "./identity.js";
import { LeaseClient, type LeaseRequest } from "./lease-client.js";
import { type Lease, type LeaseRecord, nowText, recordKey, recordOf, specFor } from "./lease-record.js";
import { LeaderMetrics } from "./metrics.js";
import { candidateWaitMs, type LeaderTimings, leaderTimings } from "./timings.js";

export { DEFAULT_LEASE_NAME, defaultIdentity, defaultLeaseNamespace } from "./identity.js";
export { DEFAULT_LEADER_TIMINGS, type LeaderTimings } from "./timings.js";

export interface LeadershipLoss {
  /**
   * renew-deadline: no renewal succeeded for renewDeadline (API server unreachable, RBAC, ...);
   * lost-lease: the Lease names another holder; stopped: stop() was called.
   */
  reason: "renew-deadline" | "lost-lease" | "stopped";
  /** Time since the last successful renewal was sent. */
  sinceLastRenewalMs: number;
}

export interface LeaseElectorOptions {
  /** Requests to the API server (the controller's KubeClient.json); needs get, create and update on the Lease. */
  request: LeaseRequest;
  /** The kubeconfig context's namespace, the last choice before `default`. */
  contextNamespace?: string;
  /** Default: defaultLeaseNamespace() (POD_NAMESPACE, the pod's namespace, the context's, default). */
  namespace?: string;
  /** Default: meshgate-controller. */
  name?: string;
  /** Unique per process. Default: defaultIdentity(). */
  identity?: string;
  /** Default 12/8/2 s; checked (whole-second lease, renewDeadline < leaseDuration, retryPeriod × 1.2 < renewDeadline). */
  timings?: Partial<LeaderTimings>;
  logger: Logger;
  /** Where the two metrics are registered (shared when several electors use one registry). */
  registry: Registry;
  /** Monotonic milliseconds; leases are timed on it. Default performance.now. */
  clock?: () => number;
  /** Called when this process starts leading; `signal` aborts as soon as leadership ends. */
  onStartedLeading?(signal: AbortSignal): void;
  /** Called when this process stops leading, before the Lease is released on stop(). */
  onStoppedLeading?(loss: LeadershipLoss): void;
  /** Called when the Lease is seen with a new non-empty holder (this process included). */
  onNewLeader?(identity: string): void;
}

/** A read that sees the holder's lease end is retried this long after it, to be strictly past it. */
const PAST_EXPIRY_MS = 5;

export class LeaseElector {
  readonly identity: string;
  readonly namespace: string;
  readonly name: string;
  readonly timings: Readonly<LeaderTimings>;

  private readonly client: LeaseClient;
  private readonly metrics: LeaderMetrics;
  private readonly logger: Logger;
  private readonly now: () => number;
  /** Aborts the request in flight when stop() is called. */
  private readonly cancel = new AbortController();

  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private sleeping: { timer: NodeJS.Timeout; wake(): void } | undefined;

  /** The Lease as last read or written: its resourceVersion guards the next write. */
  private lease: Lease | undefined;
  private observed: LeaseRecord | undefined;
  private observedKey = "";
  /** When (clock) `observed` was first seen with its current content. */
  private observedAt = 0;
  private reportedLeader = "";

  private leading: AbortController | undefined;
  /** When (clock) the last successful renewal (or acquisition) was sent. */
  private renewedAt = 0;
  private deadline: NodeJS.Timeout | undefined;

  private lastFailure: ApiFailure | undefined;

  constructor(private readonly options: LeaseElectorOptions) {
    this.timings = leaderTimings(options.timings);
    this.identity = options.identity ?? defaultIdentity();
    if (this.identity === "") throw new Error("leader election: the identity must not be empty");
    this.namespace = options.namespace ?? defaultLeaseNamespace(options.contextNamespace);
    this.name = options.name ?? DEFAULT_LEASE_NAME;
    this.now = options.clock ?? (() => performance.now());
    const lease = `${this.namespace}/${this.name}`;
    this.logger = options.logger.child({ lease, identity: this.identity });
    this.metrics = new LeaderMetrics(options.registry, lease);
    // A hung connection must not hold up the next attempt for long; a leader's deadline is kept
    // by its own timer whatever the request does.
    const requestTimeoutMs = Math.max(this.timings.retryPeriodMs, this.timings.renewDeadlineMs / 2);
    this.client = new LeaseClient(options.request, this.namespace, this.name, requestTimeoutMs);
  }

  /** Starts campaigning in the background. A second call does nothing; after stop() it throws. */
  start(): void {
    if (this.stopping !== undefined) throw new Error("leader election: this elector was stopped; make a new one");
    if (this.loop !== undefined) return;
    this.logger.info({ timings: this.timings }, "leader election: campaigning");
    this.loop = this.run();
  }

  isLeader(): boolean {
    return this.leading !== undefined;
  }

  /** The holder last seen on the Lease ("" when none or not read yet). */
  leader(): string {
    return this.observed?.holderIdentity ?? "";
  }

  /** Stops leading (onStoppedLeading first, so writes stop), then releases the Lease if it is ours. */
  stop(): Promise<void> {
    this.stopping ??= this.shutDown();
    return this.stopping;
  }

  private async shutDown(): Promise<void> {
    this.cancel.abort();
    if (this.sleeping !== undefined) {
      clearTimeout(this.sleeping.timer);
      this.sleeping.wake();
    }
    await this.loop;
    this.stepDown("stopped");
    if (this.observed?.holderIdentity === this.identity) await this.release();
    this.logger.info("leader election: stopped");
  }

  private async run(): Promise<void> {
    while (this.stopping === undefined) {
      const startedAt = this.now();
      let held = false;
      try {
        held = await this.tryAcquireOrRenew();
      } catch (error) {
        // Only a bug gets here (API failures are handled inside); the loop goes on regardless.
        this.failed(error, "unexpected");
      }
      if (this.stopping !== undefined) return;
      if (held) this.held(startedAt);
      else if (this.leading !== undefined && this.observed !== undefined && this.observed.holderIdentity !== this.identity) {
        this.stepDown("lost-lease");
      }
      await this.sleep(this.nextAttemptAt(startedAt) - this.now());
    }
  }

  /** One look at the Lease; true when a write of ours holding it has just succeeded. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const signal = this.cancel.signal;
    // The leader writes straight over what it last wrote; a conflict (someone wrote since) or a
    // deleted Lease sends it to a fresh read, and on to a takeover or a new Lease.
    if (this.leading !== undefined && this.lease !== undefined && this.observed !== undefined) {
      const renewal = { ...this.observed, leaseDurationSeconds: this.leaseSeconds(), renewTime: nowText() };
      if (await this.write("renew", () => this.client.replace(this.withRecord(this.lease as Lease, renewal), signal))) return true;
      if (this.lastFailure?.reason !== "conflict" && this.lastFailure?.status !== 404) return false;
    }

    let current: Lease | undefined;
    try {
      current = await this.client.get(signal);
    } catch (error) {
      this.failed(error, "read");
      return false;
    }
    this.succeeded();
    if (current === undefined) {
      const time = nowText();
      const record: LeaseRecord = {
        holderIdentity: this.identity,
        leaseDurationSeconds: this.leaseSeconds(),
        acquireTime: time,
        renewTime: time,
        leaseTransitions: 0,
      };
      const created: Lease = { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: this.name, namespace: this.namespace } };
      return this.write("create", () => this.client.create(this.withRecord(created, record), signal));
    }
    const record = this.observe(current);
    if (record.holderIdentity !== "" && record.holderIdentity !== this.identity && this.observedLeaseValid()) return false;

    const time = nowText();
    const next: LeaseRecord =
      record.holderIdentity === this.identity
        ? { ...record, leaseDurationSeconds: this.leaseSeconds(), renewTime: time }
        : {
            holderIdentity: this.identity,
            leaseDurationSeconds: this.leaseSeconds(),
            acquireTime: time,
            renewTime: time,
            leaseTransitions: record.leaseTransitions + 1,
          };
    return this.write(record.holderIdentity === this.identity ? "renew" : "take-over", () => this.client.replace(this.withRecord(current, next), signal));
  }

  /** A write of ours holding the Lease succeeded; the attempt that made it was sent at `sentAt`. */
  private held(sentAt: number): void {
    const left = sentAt + this.timings.renewDeadlineMs - this.now();
    // A write that took longer than renewDeadline to answer holds nothing we may rely on.
    if (left <= 0) {
      this.stepDown("renew-deadline");
      return;
    }
    this.renewedAt = sentAt;
    if (this.leading === undefined) this.startLeading();
    this.armDeadline();
  }

  /** Stops leading renewDeadline after the last successful renewal was sent, not a moment sooner or later. */
  private armDeadline(): void {
    clearTimeout(this.deadline);
    const left = this.renewedAt + this.timings.renewDeadlineMs - this.now();
    // Timers may fire a fraction of a millisecond early by this clock: then wait out the rest.
    if (left > 0) this.deadline = setTimeout(() => this.armDeadline(), Math.ceil(left));
    else this.stepDown("renew-deadline");
  }

  private startLeading(): void {
    const leading = new AbortController();
    this.leading = leading;
    this.metrics.leading(true);
    this.logger.info({ leaseTransitions: this.observed?.leaseTransitions }, "leader election: started leading");
    this.callback("onStartedLeading", () => this.options.onStartedLeading?.(leading.signal));
  }

  private stepDown(reason: LeadershipLoss["reason"]): void {
    const leading = this.leading;
    if (leading === undefined) return;
    this.leading = undefined;
    clearTimeout(this.deadline);
    this.deadline = undefined;
    this.metrics.leading(false);
    const loss: LeadershipLoss = { reason, sinceLastRenewalMs: Math.round(this.now() - this.renewedAt) };
    leading.abort(new Error(`leadership ended: ${reason}`));
    const details = { ...loss, renewDeadlineMs: this.timings.renewDeadlineMs, holder: this.observed?.holderIdentity };
    if (reason === "stopped") this.logger.info(details, "leader election: stopped leading");
    else this.logger.warn(details, "leader election: stopped leading");
    this.callback("onStoppedLeading", () => this.options.onStoppedLeading?.(loss));
  }

  /** Hands the Lease back so a candidate takes it on its next look instead of waiting it out. */
  private async release(): Promise<void> {
    const signal = new AbortController().signal;
    for (let tries = 0; tries < 2; tries++) {
      // A renewal cut short by stop() may still have been written: on conflict, read and retry once.
      if (tries > 0 || this.lease === undefined) {
        try {
          const current = await this.client.get(signal);
          if (current === undefined) return;
          if (this.observe(current).holderIdentity !== this.identity) return;
        } catch (error) {
          this.failed(error, "release");
          return;
        }
      }
      const released: LeaseRecord = {
        holderIdentity: "",
        leaseDurationSeconds: 1,
        acquireTime: nowText(),
        renewTime: nowText(),
        leaseTransitions: this.observed?.leaseTransitions ?? 0,
      };
      if (await this.write("release", () => this.client.replace(this.withRecord(this.lease as Lease, released), signal))) {
        this.logger.info("leader election: released the Lease");
        return;
      }
      if (this.lastFailure?.reason !== "conflict") return;
    }
  }

  /** Runs one create/replace; on success the answer is what we observe next. */
  private async write(operation: string, call: () => Promise<Lease>): Promise<boolean> {
    try {
      const written = await call();
      this.succeeded();
      this.observe(written);
      return true;
    } catch (error) {
      this.failed(error, operation);
      return false;
    }
  }

  /** Takes in a Lease read from (or written to) the server; restarts the lease clock when its record changed. */
  private observe(lease: Lease): LeaseRecord {
    this.lease = lease;
    const record = recordOf(lease);
    const key = recordKey(record);
    if (key !== this.observedKey) {
      this.observedKey = key;
      this.observed = record;
      this.observedAt = this.now();
    }
    if (record.holderIdentity !== "" && record.holderIdentity !== this.reportedLeader) {
      this.reportedLeader = record.holderIdentity;
      this.logger.info({ leader: record.holderIdentity }, "leader election: new leader");
      this.callback("onNewLeader", () => this.options.onNewLeader?.(record.holderIdentity));
    }
    return record;
  }

  /** Whether the observed holder's lease still runs, on our clock, from when we saw it change. */
  private observedLeaseValid(): boolean {
    return this.observed !== undefined && this.now() < this.leaseEndsAt();
  }

  private leaseEndsAt(): number {
    return this.observedAt + (this.observed?.leaseDurationSeconds ?? 0) * 1000;
  }

  /** The leader renews every retryPeriod; a candidate looks a little sooner, and right as a holder's lease ends. */
  private nextAttemptAt(startedAt: number): number {
    if (this.leading !== undefined) return startedAt + this.timings.retryPeriodMs;
    let at = startedAt + candidateWaitMs(this.timings.retryPeriodMs, Math.random());
    const holder = this.observed?.holderIdentity ?? "";
    if (holder !== "" && holder !== this.identity) {
      const expiry = this.leaseEndsAt() + PAST_EXPIRY_MS;
      if (expiry > this.now() && expiry < at) at = expiry;
    }
    return at;
  }

  private withRecord(lease: Lease, record: LeaseRecord): Lease {
    return { ...lease, spec: specFor(lease.spec, record) };
  }

  private leaseSeconds(): number {
    return this.timings.leaseDurationMs / 1000;
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.stopping !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        this.sleeping = undefined;
        resolve();
      };
      this.sleeping = { timer: setTimeout(wake, ms), wake };
    });
  }

  private failed(error: unknown, operation: string): void {
    const failure = describeApiError(error);
    // stop() cuts the request in flight on purpose: not a failure of the API server.
    if (this.stopping !== undefined && failure.reason === "timeout" && operation !== "release") return;
    this.metrics.failed(failure.reason);
    const details = { operation, reason: failure.reason, status: failure.status, error: failure.message };
    // A lost race is part of the protocol; a changed reason is news; repeats of one are not.
    if (failure.reason === "conflict" || failure.reason === this.lastFailure?.reason) this.logger.debug(details, "leader election: API call failed");
    else this.logger.warn(details, "leader election: API call failed; retrying");
    this.lastFailure = failure;
  }

  private succeeded(): void {
    if (this.lastFailure !== undefined && this.lastFailure.reason !== "conflict") {
      this.logger.info({ after: this.lastFailure.reason }, "leader election: the API server answers again");
    }
    this.lastFailure = undefined;
  }

  private callback(name: string, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.logger.error({ err: error, callback: name }, "leader election: callback threw");
    }
  }
}
