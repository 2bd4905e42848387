// Writes the desired status of each object to the API server, as the pitfalls of other
// controllers taught: only while leader (and everything re-checked on becoming leader: status
// lost around a leader change), the latest desired status per object (a newer report replaces a
// queued one), compared with the object's current status before any write (a resync of an
// unchanged cluster writes nothing), a cache miss confirmed by a direct read before the object
// is given up, a merge patch of the status under the resourceVersion it was computed from
// (409: re-read, recompute, retry, bounded), nothing written over a newer generation, a few
// requests in flight, and nothing thrown: every outcome is counted and failures logged.
import type { Logger } from "pino";
import type { Counter, Registry } from "prom-client";
import { httpCode, type StatusApi } from "./api.js";
import type { DesiredStatus } from "./desired.js";
import { isRecord, type JsonObject, recordOf, semanticEqual } from "./json.js";
import { mergePatchTo } from "./merge-patch.js";
import { type CurrentObject, objectKey, type ObjectRef } from "./objects.js";
import { statusWritesCounter, type WriteResult } from "./write-metrics.js";

export interface StatusWriterOptions {
  /** The two calls it makes (statusApiOver the controller's client). */
  api: StatusApi;
  /** The object as the caller's informer cache has it; undefined when the cache does not. */
  current(ref: ObjectRef): CurrentObject | undefined;
  registry: Registry;
  logger: Logger;
  /** Requests in flight at most (default 4). */
  concurrency?: number;
  /** Writes tried per object when each meets a 409 (default 5). */
  conflictAttempts?: number;
  /** Wait before re-reading after a 409, doubled each time (default 50 ms). */
  conflictDelayMs?: number;
  /** Back-off of an object whose write failed otherwise: first and longest wait (default 500 ms, 60 s). */
  retryDelayMs?: { first: number; max: number };
  now?(): Date;
}

export class StatusWriter {
  private readonly api: StatusApi;
  private readonly log: Logger;
  private readonly writes: Counter<"kind" | "result">;
  private readonly concurrency: number;
  private readonly conflictAttempts: number;
  private readonly conflictDelayMs: number;
  private readonly retryDelay: { first: number; max: number };
  private readonly now: () => Date;

  /** The latest desired status of every object the last report named. */
  private readonly entries = new Map<string, DesiredStatus>();
  /** Objects to compare (and write if they differ), in order; never one in flight. */
  private readonly queue = new Set<string>();
  private readonly running = new Set<string>();
  /** Objects given a newer desired status while in flight: compared again once they finish. */
  private readonly again = new Set<string>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  /**
   * What this writer last stored per object, and the resourceVersion it was stored over: while
   * the cache still shows that older version, the cache lags behind our own write.
   */
  private readonly written = new Map<string, { over: string; stored: CurrentObject }>();
  /** A body the API server refused (422): not sent again until the desired status changes. */
  private readonly refused = new Map<string, JsonObject>();
  private idleWaiters: (() => void)[] = [];
  private leading = false;
  private closed = false;

  constructor(private readonly options: StatusWriterOptions) {
    this.api = options.api;
    this.log = options.logger.child({ component: "status-writer" });
    this.writes = statusWritesCounter(options.registry);
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.conflictAttempts = Math.max(1, options.conflictAttempts ?? 5);
    this.conflictDelayMs = options.conflictDelayMs ?? 50;
    this.retryDelay = options.retryDelayMs ?? { first: 500, max: 60_000 };
    this.now = options.now ?? (() => new Date());
  }

  /**
   * The desired status of every object, from the latest report: it replaces what an earlier
   * report queued, and objects it no longer names are no longer written.
   */
  publish(desired: readonly DesiredStatus[]): void {
    if (this.closed) return;
    const next = new Map(desired.map((d) => [objectKey(d.ref), d]));
    for (const key of [...this.entries.keys()]) if (!next.has(key)) this.forget(key);
    for (const [key, d] of next) {
      this.entries.set(key, d);
      this.mark(key);
    }
    this.pump();
  }

  /** Only the leader writes. On becoming leader every known object is compared again. */
  setLeader(leading: boolean): void {
    if (this.closed || leading === this.leading) return;
    this.leading = leading;
    if (leading) {
      this.log.info({ objects: this.entries.size }, "leading: checking the status of every object");
      this.resync();
      return;
    }
    // What this term learnt about the objects may be stale by the next one.
    this.queue.clear();
    this.again.clear();
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    this.retryTimers.clear();
    this.failures.clear();
    this.written.clear();
    this.refused.clear();
    this.settle();
  }

  /** Compares every known object again (after a cache resync, or to repair what others changed). */
  resync(): void {
    for (const key of this.entries.keys()) this.mark(key);
    this.pump();
  }

  /** Resolves once nothing is queued or in flight (a back-off waiting to retry does not count). */
  idle(): Promise<void> {
    if (this.queue.size === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops writing; requests in flight finish and are not retried. */
  close(): void {
    this.setLeader(false);
    this.closed = true;
    this.entries.clear();
    this.settle();
  }

  private forget(key: string): void {
    this.entries.delete(key);
    this.queue.delete(key);
    this.again.delete(key);
    const timer = this.retryTimers.get(key);
    if (timer !== undefined) clearTimeout(timer);
    this.retryTimers.delete(key);
    this.failures.delete(key);
    this.written.delete(key);
    this.refused.delete(key);
  }

  private mark(key: string): void {
    if (!this.leading) return;
    // Backing off after a failure: the timer takes whatever is latest when it fires.
    if (this.retryTimers.has(key)) return;
    if (this.running.has(key)) this.again.add(key);
    else this.queue.add(key);
  }

  private pump(): void {
    if (this.leading)
      for (const key of this.queue) {
        if (this.running.size >= this.concurrency) break;
        this.queue.delete(key);
        this.running.add(key);
        void this.process(key).finally(() => {
          this.running.delete(key);
          if (this.again.delete(key)) this.mark(key);
          this.pump();
        });
      }
    this.settle();
  }

  private settle(): void {
    if ((this.queue.size > 0 && this.leading) || this.running.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** The object as last known: the cache, unless it still shows the version our own write replaced. */
  private cached(key: string, ref: ObjectRef): CurrentObject | undefined {
    const seen = this.options.current(ref);
    const mine = this.written.get(key);
    if (mine === undefined || seen === undefined) return seen;
    if (seen.resourceVersion === mine.over) return mine.stored;
    this.written.delete(key);
    return seen;
  }

  /** Compare, and write when different; never throws. */
  private async process(key: string): Promise<void> {
    const ref = this.entries.get(key)?.ref;
    if (ref === undefined) return;
    try {
      // A cache miss may be a lagging cache (the object was just created): ask the API server.
      let object = this.cached(key, ref) ?? (await this.api.read(ref));
      for (let attempt = 1; ; attempt++) {
        const entry = this.entries.get(key);
        if (entry === undefined || !this.leading) return;
        if (object === undefined) return this.gone(key, ref);
        if (entry.observedGeneration !== undefined && object.generation > entry.observedGeneration)
          return this.count(ref, "stale_generation");
        const body = entry.build(object.status, this.now());
        if (semanticEqual(body, recordOf(object.status))) {
          this.failures.delete(key);
          return;
        }
        const refusedBody = this.refused.get(key);
        if (refusedBody !== undefined && semanticEqual(refusedBody, body)) return;
        try {
          const stored = await this.api.patchStatus(ref, object.resourceVersion, mergePatchTo(object.status, body));
          this.written.set(key, { over: object.resourceVersion, stored });
          this.failures.delete(key);
          this.refused.delete(key);
          this.count(ref, "written");
          this.log.debug({ object: key, resourceVersion: stored.resourceVersion }, "status written");
          return;
        } catch (error) {
          const code = httpCode(error);
          if (code === 404) return this.gone(key, ref);
          if (code === 422 || code === 400) {
            this.refused.set(key, body);
            this.count(ref, "invalid");
            this.log.warn({ object: key, code, reason: reasonOf(error) }, "the API server refused the status meshgate computed");
            return;
          }
          if (code !== 409) throw error;
          this.count(ref, "conflict");
          if (attempt >= this.conflictAttempts) {
            this.log.warn({ object: key, attempts: attempt }, "status write kept meeting conflicts; retrying later");
            return this.retryLater(key);
          }
          // Someone changed the object after it was read: read it again and recompute on it.
          await delay(jittered(this.conflictDelayMs * 2 ** (attempt - 1)));
          object = await this.api.read(ref);
        }
      }
    } catch (error) {
      this.count(ref, "error");
      this.log.warn({ object: key, code: httpCode(error), reason: reasonOf(error) }, "status write failed; retrying with back-off");
      this.retryLater(key);
    }
  }

  /** The API server confirms the object is gone: nothing to write until a report names it again. */
  private gone(key: string, ref: ObjectRef): void {
    this.written.delete(key);
    this.count(ref, "not_found");
  }

  private retryLater(key: string): void {
    if (!this.leading || !this.entries.has(key)) return;
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    const wait = jittered(Math.min(this.retryDelay.max, this.retryDelay.first * 2 ** (failures - 1)));
    const timer = setTimeout(() => {
      this.retryTimers.delete(key);
      this.mark(key);
      this.pump();
    }, wait);
    timer.unref();
    this.retryTimers.set(key, timer);
  }

  private count(ref: ObjectRef, result: WriteResult): void {
    this.writes.inc({ kind: ref.kind, result });
  }
}

/** ±20 %, so that many objects failing together do not retry together. */
function jittered(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A short reason for the log: the API server's Status message, or the error's first line (never headers). */
function reasonOf(error: unknown): string {
  const body = isRecord(error) ? error["body"] : undefined;
  const parsed: unknown = typeof body === "string" ? safeJson(body) : body;
  if (isRecord(parsed) && typeof parsed["message"] === "string") return parsed["message"];
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0] ?? message;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
