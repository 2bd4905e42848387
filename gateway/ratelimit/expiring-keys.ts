// A Map of per-key state that expires, bounded in size: what a limiter remembers about keys
// (used-up buckets, leases) must not grow with every key a client invents.
//
// Expired entries are swept when the map has doubled since the last sweep, so sweeping costs
// O(1) per entry added. At the bound, nothing more is added until a sweep frees room, and such
// sweeps run at most once a second: a map full of live entries does not cost a scan per request.

export class ExpiringKeys<V> {
  private readonly entries = new Map<string, V>();
  private sweepAt: number;
  private sweepNotBefore = 0;

  /** `expired(value, now)` says whether an entry may be swept. */
  constructor(
    private readonly max: number,
    private readonly expired: (value: V, now: number) => boolean,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new Error("ExpiringKeys: max must be a positive integer");
    this.sweepAt = Math.min(max, 1024);
  }

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Adds or replaces the key's entry; false, and nothing added, while the map is full of live entries. */
  set(key: string, value: V, now: number): boolean {
    if (!this.entries.has(key) && !this.roomFor(now)) return false;
    this.entries.set(key, value);
    return true;
  }

  private roomFor(now: number): boolean {
    if (this.entries.size < this.sweepAt) return true;
    if (now < this.sweepNotBefore) return false;
    for (const [key, value] of this.entries) if (this.expired(value, now)) this.entries.delete(key);
    const size = this.entries.size;
    this.sweepAt = Math.min(this.max, Math.max(1024, size * 2));
    this.sweepNotBefore = size >= this.max ? now + 1000 : 0;
    return size < this.sweepAt;
  }
}
