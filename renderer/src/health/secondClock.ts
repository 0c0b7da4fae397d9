/**
 * One clock for every "3 s ago" on the screen: a single timer, and only the components
 * that show a time re-render at each tick (not the tiles around them).
 */
import { useSyncExternalStore } from 'react';

const listeners = new Set<() => void>();
let now = Date.now();
let timer: ReturnType<typeof setInterval> | null = null;

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (timer === null) {
    now = Date.now();
    timer = setInterval(() => {
      now = Date.now();
      for (const l of [...listeners]) l();
    }, 1000);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  };
}

/** The time, to the second, shared by every caller. */
export function useSecondClock(): number {
  return useSyncExternalStore(subscribe, () => now);
}
