// A Clock for AcmeManager tests: time moves only when the test says so, and timers run when
// their due time is passed, so months of certificate lifetime take no time at all.
import type { Clock } from "../../certs/renewal.js";

export class FakeClock implements Clock {
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;

  constructor(
    public time = Date.now(),
    /** What random() returns; 0.5 means no jitter. */
    public randomValue = 0.5,
  ) {}

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  random(): number {
    return this.randomValue;
  }

  /** Due times of the timers still waiting, earliest first. */
  get pending(): number[] {
    return [...this.timers.values()].map((t) => t.at).sort((a, b) => a - b);
  }

  /** Moves to `time` and runs every timer due by then, earliest first. */
  advanceTo(time: number): void {
    this.time = time;
    for (;;) {
      const due = [...this.timers].filter(([, t]) => t.at <= time).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) return;
      this.timers.delete(due[0]);
      due[1].fn();
    }
  }
}
