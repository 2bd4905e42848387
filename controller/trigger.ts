// When to run a reconcile: after DEBOUNCE quiet time from the last change, but no later than
// MAX_DELAY after the first change of a burst (a steady trickle of events must not postpone it
// forever); one run at a time, and changes during a run cause exactly one more run after it.
export interface TriggerOptions {
  quietMs?: number;
  maxDelayMs?: number;
}

export class ReconcileTrigger {
  private readonly quietMs: number;
  private readonly maxDelayMs: number;
  private timer: NodeJS.Timeout | undefined;
  private firstChange = 0;
  private running: Promise<void> | undefined;
  private again = false;
  private held = true;
  private closed = false;

  constructor(
    private readonly run: () => Promise<void>,
    options: TriggerOptions = {},
  ) {
    this.quietMs = options.quietMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 1000;
  }

  /** Something changed. Nothing runs while held (say, before every source has synced). */
  poke(): void {
    if (this.closed) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    const now = Date.now();
    if (this.timer === undefined) this.firstChange = now;
    else clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(this.quietMs, this.firstChange + this.maxDelayMs - now));
    this.timer = setTimeout(() => this.fire(), wait);
  }

  /** Holds runs back (`true`) or lets them go (`false`); a release runs what was held. */
  hold(held: boolean): void {
    const released = this.held && !held;
    this.held = held;
    if (released && this.timer === undefined && this.running === undefined) this.poke();
  }

  /** Resolves when no run is in flight or pending. */
  async idle(): Promise<void> {
    while (this.running !== undefined || this.timer !== undefined) {
      if (this.running !== undefined) await this.running;
      else await new Promise((r) => setTimeout(r, this.quietMs));
    }
  }

  close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    return this.running ?? Promise.resolve();
  }

  private fire(): void {
    this.timer = undefined;
    if (this.closed) return;
    if (this.held) {
      // Remembered: the release runs it.
      this.again = false;
      return;
    }
    this.running = this.run()
      .catch(() => undefined)
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.closed) {
          this.again = false;
          this.poke();
        }
      });
  }
}
