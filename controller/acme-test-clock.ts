// TEST ONLY. The ACME managers' clock for `meshgate standalone` under the end-to-end tests: real
// time that can be moved forward, firing the timers the jump passes, so a renewal due in years
// happens within a test, in the running process, without a restart. cli.ts uses it only when
// MESHGATE_TEST_ACME_RENEW_ON_SIGUSR2=1 is set; it is not a user feature and not in the README.
import type { Clock } from "../certs/renewal.js";

interface Timer {
  due: number;
  fn: () => void;
  handle: NodeJS.Timeout | undefined;
}

export class JumpingClock implements Clock {
  private offset = 0;
  private readonly timers = new Set<Timer>();

  now(): number {
    return Date.now() + this.offset;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer: Timer = { due: this.now() + ms, fn, handle: undefined };
    timer.handle = setTimeout(() => this.fire(timer), ms).unref();
    this.timers.add(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    const timer = handle as Timer;
    if (!this.timers.delete(timer)) return;
    clearTimeout(timer.handle);
  }

  random(): number {
    return Math.random();
  }

  /** Moves the clock forward to `time` (never back) and runs the timers due by then. */
  jumpTo(time: number): void {
    if (time <= this.now()) return;
    this.offset += time - this.now();
    const due = [...this.timers].filter((t) => t.due <= time).sort((a, b) => a.due - b.due);
    for (const timer of due) {
      clearTimeout(timer.handle);
      this.fire(timer);
    }
  }

  private fire(timer: Timer): void {
    if (this.timers.delete(timer)) timer.fn();
  }
}
