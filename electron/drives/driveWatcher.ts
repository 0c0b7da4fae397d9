/**
 * Watches for drives appearing and going. drivelist has no events on any platform, so
 * this polls (1 s by default, well inside the 2 s promise of `drives.changed`), polls
 * again at once when nudged (a device node came or went), and reports only when
 * something a technician would see changed.
 */
import type { Drive } from '../../shared/drives.ts';

export type DriveWatcher = {
  /** The last list seen, or null before the first poll completed. */
  current(): Drive[] | null;
  /** Polls now (coalesced with a poll in flight) and returns the fresh list. */
  refresh(): Promise<Drive[]>;
  /**
   * Something changed just now: polls at once, or once more after the poll in flight
   * (which may have listed the drives before the change).
   */
  nudge(): void;
  stop(): void;
};

export function startDriveWatcher(options: {
  list: () => Promise<Drive[]>;
  onChange: (drives: Drive[]) => void;
  onError?: (error: unknown) => void;
  intervalMs?: number;
}): DriveWatcher {
  const intervalMs = options.intervalMs ?? 1000;
  let last: Drive[] | null = null;
  let lastKey = '';
  let inFlight: Promise<Drive[]> | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let pollAgain = false;

  function poll(): Promise<Drive[]> {
    inFlight ??= options
      .list()
      .then((drives) => {
        const key = JSON.stringify(drives);
        if (key !== lastKey) {
          const first = last === null;
          lastKey = key;
          last = drives;
          if (!first && !stopped) options.onChange(drives);
        }
        return drives;
      })
      .finally(() => {
        inFlight = null;
        if (pollAgain && !stopped) {
          pollAgain = false;
          nudge();
        }
      });
    return inFlight;
  }

  function nudge(): void {
    if (stopped) return;
    if (inFlight) {
      pollAgain = true;
      return;
    }
    poll().catch((error: unknown) => options.onError?.(error));
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      poll()
        .catch((error: unknown) => options.onError?.(error))
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  }

  poll()
    .catch((error: unknown) => options.onError?.(error))
    .finally(schedule);

  return {
    current: () => last,
    refresh: poll,
    nudge,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
