// Keeps ACME certificates fresh without anyone asking: load what is stored, issue when missing
// or past two thirds of its lifetime, retry failures with jittered exponential back-off, and
// keep serving the old certificate meanwhile. Time, timers and randomness come from a Clock so
// tests can move through months in a step.
import type { CertificateIssuer, IssuedCertificate, IssueErrorKind } from "./issuing.js";
import type { ChallengeResponder } from "./http01.js";
import { canonicalNames } from "./names.js";

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** In [0, 1), like Math.random. */
  random(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  // Unref'd: pending renewals alone must not keep a process from exiting.
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  random: () => Math.random(),
};

export interface CertificateStorage {
  load(names: readonly string[]): Promise<IssuedCertificate | undefined>;
  save(cert: IssuedCertificate): Promise<void>;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** 0.2 spreads each delay over ±20 %, so many gateways failing together do not retry together. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 60_000, maxMs: 3_600_000, jitter: 0.2 };

export type ManagedState = "pending" | "valid" | "renewing" | "failed";

export interface ManagedStatus {
  state: ManagedState;
  /** Expiry of the certificate being served, if any (it may be older than the last attempt). */
  notAfter?: Date;
  /** When the served certificate is due for renewal. */
  renewAt?: Date;
  lastError?: { kind: IssueErrorKind; message: string };
  /** When the next attempt after a failure is scheduled. */
  nextAttemptAt?: Date;
}

export interface AcmeManagerOptions {
  issuer: CertificateIssuer;
  store: CertificateStorage;
  responder: ChallengeResponder;
  /** Called with every certificate worth serving: loaded from the store, issued or renewed. */
  onCertificate(names: string[], cert: IssuedCertificate): void;
  clock?: Clock;
  backoff?: Partial<BackoffOptions>;
}

// Node fires timers longer than 2^31-1 ms at once, and certificates live longer than that, so
// long waits are taken in steps; each wake-up re-checks, which also copes with clock jumps.
const MAX_TIMER_MS = 12 * 3_600_000;
// A CA handing out certificates already due for renewal (skewed clock) must not be hammered.
const MIN_RENEWAL_GAP_MS = 3_600_000;

/** notBefore + 2/3 of the lifetime, in epoch ms. */
export function renewalTime(cert: { notBefore: Date; notAfter: Date }): number {
  const start = cert.notBefore.getTime();
  return start + Math.floor(((cert.notAfter.getTime() - start) * 2) / 3);
}

/** Delay before retry number `failures` (1-based); `random` in [0, 1) picks the jitter. */
export function backoffDelay(failures: number, random: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (1 + options.jitter * (2 * random - 1)));
}

interface Entry {
  names: string[];
  current?: IssuedCertificate;
  state: ManagedState;
  lastError?: { kind: IssueErrorKind; message: string };
  nextAttemptAt?: number;
  failures: number;
  timer?: unknown;
  busy: boolean;
  firstCheck?: Promise<void>;
}

export class AcmeManager {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: Clock;
  private readonly backoff: BackoffOptions;
  private stopped = false;

  constructor(private readonly options: AcmeManagerOptions) {
    this.clock = options.clock ?? systemClock;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  }

  /**
   * Starts looking after a certificate for `names` (idempotent). The promise settles when the
   * first check is done (loaded or issued, or failed and retry scheduled); it never rejects.
   * Throws at once if a name is not a DNS name.
   */
  manage(names: string[]): Promise<void> {
    const canonical = canonicalNames(names);
    const key = canonical.join(",");
    const known = this.entries.get(key);
    if (known?.firstCheck !== undefined) return known.firstCheck;
    const entry: Entry = { names: canonical, state: "pending", failures: 0, busy: false };
    this.entries.set(key, entry);
    entry.firstCheck = this.check(entry, true);
    return entry.firstCheck;
  }

  /** Stops renewing `names`; a certificate already handed to the gateway stays there. */
  unmanage(names: string[]): void {
    const key = canonicalNames(names).join(",");
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.clock.clearTimeout(entry.timer);
    this.entries.delete(key);
  }

  status(names: string[]): ManagedStatus | undefined {
    const entry = this.entries.get(canonicalNames(names).join(","));
    if (entry === undefined) return undefined;
    const status: ManagedStatus = { state: entry.state };
    if (entry.current !== undefined) {
      status.notAfter = entry.current.notAfter;
      status.renewAt = new Date(renewalTime(entry.current));
    }
    if (entry.lastError !== undefined) status.lastError = { ...entry.lastError };
    if (entry.nextAttemptAt !== undefined) status.nextAttemptAt = new Date(entry.nextAttemptAt);
    return status;
  }

  /** Cancels every timer; an order already in flight finishes and is stored, not published. */
  stop(): void {
    this.stopped = true;
    for (const entry of this.entries.values()) this.clock.clearTimeout(entry.timer);
  }

  private async check(entry: Entry, first = false): Promise<void> {
    if (this.stopped || entry.busy || !this.isManaged(entry)) return;
    entry.busy = true;
    entry.timer = undefined;
    try {
      if (first) await this.loadStored(entry);
      if (entry.current !== undefined && this.clock.now() < renewalTime(entry.current)) {
        entry.state = "valid";
        this.schedule(entry, renewalTime(entry.current));
        return;
      }
      await this.renew(entry);
    } finally {
      entry.busy = false;
    }
  }

  private async loadStored(entry: Entry): Promise<void> {
    try {
      const stored = await this.options.store.load(entry.names);
      if (stored !== undefined && stored.notAfter.getTime() > this.clock.now()) this.publish(entry, stored);
    } catch (err) {
      // A damaged file is replaced by a fresh certificate; the reason stays visible until then.
      entry.lastError = { kind: "other", message: `stored certificate unusable: ${messageOf(err)}` };
    }
  }

  private async renew(entry: Entry): Promise<void> {
    const serving = entry.current !== undefined && entry.current.notAfter.getTime() > this.clock.now();
    entry.state = serving ? "renewing" : "pending";
    entry.nextAttemptAt = undefined;
    let cert: IssuedCertificate;
    try {
      cert = await this.options.issuer.issue(entry.names, this.options.responder);
    } catch (err) {
      entry.failures += 1;
      entry.state = "failed";
      entry.lastError = { kind: kindOf(err), message: messageOf(err) };
      const retryAfter = (err as { retryAfterMs?: unknown }).retryAfterMs;
      const delay = Math.max(
        backoffDelay(entry.failures, this.clock.random(), this.backoff),
        typeof retryAfter === "number" ? retryAfter : 0,
      );
      entry.nextAttemptAt = this.clock.now() + delay;
      this.schedule(entry, entry.nextAttemptAt);
      return;
    }
    entry.failures = 0;
    entry.lastError = undefined;
    try {
      await this.options.store.save(cert);
    } catch (err) {
      // Serve it anyway: throwing a valid certificate away would spend the CA's rate limit.
      entry.lastError = { kind: "other", message: `issued but not stored: ${messageOf(err)}` };
    }
    if (this.stopped || !this.isManaged(entry)) return;
    this.publish(entry, cert);
    this.schedule(entry, Math.max(renewalTime(cert), this.clock.now() + MIN_RENEWAL_GAP_MS));
  }

  private publish(entry: Entry, cert: IssuedCertificate): void {
    entry.current = cert;
    entry.state = "valid";
    try {
      this.options.onCertificate(entry.names, cert);
    } catch (err) {
      entry.lastError = { kind: "other", message: `onCertificate failed: ${messageOf(err)}` };
    }
  }

  private schedule(entry: Entry, at: number): void {
    if (this.stopped || !this.isManaged(entry)) return;
    this.clock.clearTimeout(entry.timer);
    const delay = Math.min(Math.max(0, at - this.clock.now()), MAX_TIMER_MS);
    entry.timer = this.clock.setTimeout(() => void this.check(entry), delay);
  }

  private isManaged(entry: Entry): boolean {
    return this.entries.get(entry.names.join(",")) === entry;
  }
}

function kindOf(err: unknown): IssueErrorKind {
  const kind = (err as { kind?: unknown } | null)?.kind;
  return kind === "unreachable" || kind === "rate-limited" || kind === "challenge-failed" ? kind : "other";
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
