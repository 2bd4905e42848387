// Counts this process's event-loop turns while work runs, and the longest gap between two: how
// well a long job leaves the loop to everything else.
import { performance } from "node:perf_hooks";

export interface LoopTurns {
  /** Stops counting; the turns seen and the longest gap between two, in ms. */
  stop(): { turns: number; longestMs: number };
}

export function countLoopTurns(): LoopTurns {
  let turns = 0;
  let longest = 0;
  let last = performance.now();
  let running = true;
  const tick = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    turns++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop() {
      running = false;
      return { turns, longestMs: longest };
    },
  };
}
