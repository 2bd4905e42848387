// Fixed-window counters in process memory, for Local limits and for Global limits' insurance.
// rate-limiter-flexible's RateLimiterMemory does this job but can do neither of two things the
// data plane needs: answer synchronously (it answers by promise only, so every request would be
// held for a microtask), and bound its memory (each key costs a record and a timer, about 540
// bytes, for the whole window: a Distinct rule with a one-day window grows by that much for every
// new header value or IPv6 address a client makes up, until the process runs out of memory).
//
// Here each key holds one small object, and a counter set holds at most `maxKeys`. Every window
// of one set has the same length and a key is re-inserted when its window starts, so the Map's
// order (insertion order) is the order in which windows end: expired keys are always at the
// front, and sweeping them costs nothing per live key. When the set is full of live windows, the
// one that ends soonest is dropped, as nginx's limit_req drops its least recently used state; the
// key starts afresh if it comes back, so a flood of new keys can at worst let old keys through
// early, never grow memory or deny anyone wrongly.

/** Counter sets hold at most this many keys (about 90 bytes each, plus the key) unless told otherwise. */
export const MAX_COUNTED_KEYS = 100_000;

export interface WindowCount {
  allowed: boolean;
  /** Points left in the window; 0 once denied. */
  remaining: number;
  /** Milliseconds until the window ends. */
  resetMs: number;
}

export interface WindowTake {
  /** Points taken: a multiple of the step, at most what was wanted and what the window had left. */
  taken: number;
  /** The window's count after taking. */
  count: number;
  /** Milliseconds until the window ends. */
  resetMs: number;
}

interface Window {
  count: number;
  endsAt: number;
}

export class WindowCounters {
  private readonly windows = new Map<string, Window>();

  /**
   * `points` per window of `windowMs` for each key, counted from the key's first request.
   * `onEvict` is told of every live window dropped to make room.
   */
  constructor(
    private readonly points: number,
    private readonly windowMs: number,
    private readonly maxKeys: number = MAX_COUNTED_KEYS,
    private readonly onEvict?: () => void,
  ) {
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new Error("WindowCounters: maxKeys must be a positive integer");
  }

  /** Adds `cost` to the key's window (denied requests count too) and says whether it is within `points`. */
  consume(key: string, cost: number, now: number = Date.now()): WindowCount {
    let window = this.windows.get(key);
    if (window !== undefined && window.endsAt <= now) {
      this.windows.delete(key);
      window = undefined;
    }
    if (window === undefined) {
      this.makeRoom(now);
      window = { count: 0, endsAt: now + this.windowMs };
      this.windows.set(key, window);
    }
    window.count += cost;
    const allowed = window.count <= this.points;
    return { allowed, remaining: allowed ? this.points - window.count : 0, resetMs: window.endsAt - now };
  }

  /**
   * Takes up to `want` points from the key's window, in whole multiples of `step`, without going
   * past `points`: what a ledger lends out (see local-shares.ts). Only taken points are counted.
   * A `want` of 0 reads the count and starts no window.
   */
  take(key: string, want: number, step: number, now: number = Date.now()): WindowTake {
    let window = this.windows.get(key);
    if (window !== undefined && window.endsAt <= now) {
      this.windows.delete(key);
      window = undefined;
    }
    if (window === undefined) {
      if (want <= 0) return { taken: 0, count: 0, resetMs: this.windowMs };
      this.makeRoom(now);
      window = { count: 0, endsAt: now + this.windowMs };
      this.windows.set(key, window);
    }
    const fits = Math.min(want, Math.max(0, this.points - window.count));
    const taken = fits - (fits % step);
    window.count += taken;
    return { taken, count: window.count, resetMs: window.endsAt - now };
  }

  /** Keys held, expired ones not yet swept included. */
  get size(): number {
    return this.windows.size;
  }

  /** Drops expired windows from the front, then live ones while the set is full. */
  private makeRoom(now: number): void {
    for (const [key, window] of this.windows) {
      const live = window.endsAt > now;
      if (live && this.windows.size < this.maxKeys) return;
      this.windows.delete(key);
      if (live) this.onEvict?.();
    }
  }
}
