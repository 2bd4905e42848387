// One kind's list-then-watch loop, as client-go's reflector: list (in pages), hand over the
// whole list, watch from its resourceVersion; a watch that ends cleanly resumes from the last
// version seen; 410 Gone (that version was compacted away) relists; any other failure (the API
// server restarting, a refused connection, 403) waits a jittered, growing back-off and tries
// again — the loop never stops on its own. client-node 1.4's informer stops at the first error
// that is not a 410 (client-node#1933).
import type { KubeClient, WatchEvent } from "./client.js";
import { KubeApiError, statusError } from "./client.js";
import { collectionPath, type WatchedKind } from "./kinds.js";

export interface ReflectorSink {
  /** Every object of the kind after a (re)list; those not in it are gone. */
  replace(objects: RawObject[]): void;
  upsert(object: RawObject): void;
  remove(object: RawObject): void;
}

export type RawObject = Record<string, unknown> & { metadata?: Record<string, unknown> };

export type ReflectorState =
  | { phase: "listing" }
  | { phase: "watching"; resourceVersion: string }
  | { phase: "failing"; status: number; message: string; attempts: number };

export interface ReflectorTiming {
  /** First back-off after a failure; doubled per failure up to maxBackoffMs, with ±50 % jitter. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Items per list page. */
  pageSize?: number;
  /** Server-side watch length (randomised between it and twice it, as client-go does). */
  watchSeconds?: number;
}

export interface ReflectorObserver {
  state(kind: WatchedKind, state: ReflectorState): void;
  /** A list or watch failed; `relist`: the watch fell behind compaction (410). */
  failure(kind: WatchedKind, error: Error, relist: boolean): void;
  listed(kind: WatchedKind, items: number): void;
}

export class Reflector {
  private stopped = false;
  private resourceVersion: string | undefined;
  private watchHandle: { abort(): void } | undefined;
  private sleepTimer: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  private failures = 0;
  private readonly loop: Promise<void>;

  constructor(
    private readonly client: KubeClient,
    readonly kind: WatchedKind,
    private readonly sink: ReflectorSink,
    private readonly observer: ReflectorObserver,
    private readonly timing: ReflectorTiming = {},
  ) {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watchHandle?.abort();
    if (this.sleepTimer !== undefined) {
      clearTimeout(this.sleepTimer.timer);
      this.sleepTimer.wake();
    }
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.resourceVersion === undefined) {
          this.observer.state(this.kind, { phase: "listing" });
          this.resourceVersion = await this.list();
        }
        this.observer.state(this.kind, { phase: "watching", resourceVersion: this.resourceVersion });
        await this.watchOnce();
        this.failures = 0;
      } catch (err) {
        if (this.stopped) return;
        const error = err instanceof Error ? err : new Error(String(err));
        const gone = error instanceof KubeApiError && (error.status === 410 || error.reason === "Expired");
        this.observer.failure(this.kind, error, gone);
        if (gone) {
          // Not a failure of the server: relist at once.
          this.resourceVersion = undefined;
          continue;
        }
        this.failures++;
        this.observer.state(this.kind, {
          phase: "failing",
          status: error instanceof KubeApiError ? error.status : 0,
          message: error.message,
          attempts: this.failures,
        });
        await this.sleep(this.backoff());
      }
    }
  }

  private backoff(): number {
    const base = this.timing.backoffMs ?? 800;
    const max = this.timing.maxBackoffMs ?? 30_000;
    const ms = Math.min(max, base * 2 ** Math.min(this.failures - 1, 16));
    return ms * (0.5 + Math.random());
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((wake) => {
      const timer = setTimeout(() => {
        this.sleepTimer = undefined;
        wake();
      }, ms);
      this.sleepTimer = { timer, wake };
    });
  }

  /** The whole collection, page by page; returns the list's resourceVersion. */
  private async list(): Promise<string> {
    const items: RawObject[] = [];
    let next: string | undefined;
    let version = "";
    do {
      const query = new URLSearchParams({ ...this.kind.selectors, limit: String(this.timing.pageSize ?? 500) });
      if (next !== undefined) query.set("continue", next);
      const page = (await this.client.json("GET", `${collectionPath(this.kind)}?${query}`)) as {
        items?: RawObject[] | null;
        metadata?: { resourceVersion?: string; continue?: string };
      };
      for (const item of page.items ?? []) items.push(this.typed(item));
      version = page.metadata?.resourceVersion ?? "";
      next = page.metadata?.continue || undefined;
      if (this.stopped) throw new Error("stopped");
    } while (next !== undefined);
    this.sink.replace(items);
    this.observer.listed(this.kind, items.length);
    return version;
  }

  /** One watch stream until it ends; rejects on an error (410 included). */
  private watchOnce(): Promise<void> {
    const seconds = this.timing.watchSeconds ?? 300;
    const timeoutSeconds = Math.round(seconds * (1 + Math.random()));
    const query = new URLSearchParams({
      ...this.kind.selectors,
      watch: "true",
      allowWatchBookmarks: "true",
      resourceVersion: this.resourceVersion ?? "",
      timeoutSeconds: String(timeoutSeconds),
    });
    return new Promise((resolve, reject) => {
      let failed: Error | undefined;
      const onEvent = (event: WatchEvent) => {
        if (failed !== undefined || this.stopped) return;
        const object = event.object as RawObject;
        if (event.type === "ERROR") {
          failed = statusError(event.object);
          this.watchHandle?.abort();
          return;
        }
        const version = object.metadata?.["resourceVersion"];
        if (typeof version === "string" && version !== "") this.resourceVersion = version;
        if (event.type === "ADDED" || event.type === "MODIFIED") this.sink.upsert(this.typed(object));
        else if (event.type === "DELETED") this.sink.remove(this.typed(object));
        // BOOKMARK: only the version moves.
      };
      this.watchHandle = this.client.watch(
        `${collectionPath(this.kind)}?${query}`,
        onEvent,
        (error) => {
          this.watchHandle = undefined;
          const cause = failed ?? error;
          if (cause === undefined) resolve();
          else reject(cause);
        },
        // Bookmarks and events keep it alive; a silent connection is cut a minute past the
        // server's own end of the watch.
        (timeoutSeconds + 60) * 1000,
      );
    });
  }

  /** List items carry no kind or apiVersion; watch events do. Both leave here with them. */
  private typed(object: RawObject): RawObject {
    if (object["kind"] === undefined) object["kind"] = this.kind.kind;
    if (object["apiVersion"] === undefined) object["apiVersion"] = this.kind.apiVersion;
    return object;
  }
}
