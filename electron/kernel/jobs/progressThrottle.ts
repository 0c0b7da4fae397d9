/**
 * The one progress throttle: at most one value per interval goes out, the latest one offered
 * in between is kept and sent when the interval ends, so the last bytes count is never lost
 * and the rate of events stays bounded. Used wherever progress is relayed: the flash helper
 * per drive, the flash job for its combined progress, and the job runner for every job's
 * events (JobRunner's ≤ 10 events a second).
 */

export type ProgressThrottle<T> = {
  /**
   * Sends `value` at once when the interval has passed since the last send or it is `urgent`
   * (a new phase or drive state, which must not wait); else keeps it, in place of any kept
   * one, to send when the interval ends.
   */
  offer(value: T, urgent?: boolean): void;
  /** Sends the kept value now, if there is one. */
  flush(): void;
  /** Forgets the kept value (the caller sends something final of its own). */
  cancel(): void;
};

export type ProgressThrottleOptions<T> = {
  intervalMs: number;
  now?: () => number;
  /**
   * True when the kept value must not be replaced unseen by `next` (a phase or drive state
   * that would vanish between two events): the kept one goes out at once instead.
   */
  keepsApart?: (kept: T, next: T) => boolean;
};

/** `send` gets each value let through and the time it went (by `now`). */
export function createProgressThrottle<T>(send: (value: T, at: number) => void, options: ProgressThrottleOptions<T>): ProgressThrottle<T> {
  const now = options.now ?? Date.now;
  let lastSentAt = Number.NEGATIVE_INFINITY;
  let kept: { value: T } | null = null;
  let timer: NodeJS.Timeout | null = null;

  const sendNow = (value: T): void => {
    // A timer left from before would fire less than an interval after this send.
    if (timer !== null) clearTimeout(timer);
    timer = null;
    kept = null;
    lastSentAt = now();
    send(value, lastSentAt);
  };
  const flush = (): void => {
    if (kept !== null) sendNow(kept.value);
  };

  return {
    offer(value, urgent = false) {
      const since = now() - lastSentAt;
      if (urgent || since >= options.intervalMs) {
        sendNow(value);
        return;
      }
      if (kept !== null && options.keepsApart?.(kept.value, value) === true) sendNow(kept.value);
      kept = { value };
      timer ??= setTimeout(() => {
        timer = null;
        flush();
      }, options.intervalMs - since);
    },
    flush,
    cancel() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      kept = null;
    },
  };
}
