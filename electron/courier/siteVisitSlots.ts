/**
 * The few connections a site visit keeps open at once: a device takes a slot for each
 * attempt and gives it back before it backs off, so a device waiting to retry never holds
 * up the others. Waiters are served first come, first served; cancel wakes them all.
 */
import { JobCancelledError } from '../kernel/jobs/jobContext.ts';

export type VisitSlots = {
  /** Waits for a free slot; throws JobCancelledError when the visit is cancelled meanwhile. */
  acquire(): Promise<void>;
  release(): void;
  readonly inFlight: number;
  /** The most slots ever taken at once. */
  readonly maxInFlight: number;
};

export function createVisitSlots(limit: number, signal: AbortSignal): VisitSlots {
  let inFlight = 0;
  let maxInFlight = 0;
  const waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  const cancelled = (): JobCancelledError => new JobCancelledError(typeof signal.reason === 'string' ? signal.reason : 'cancelled');
  signal.addEventListener('abort', () => {
    for (const waiter of waiters.splice(0)) waiter.reject(cancelled());
  });
  const take = (): void => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
  };
  return {
    acquire() {
      if (signal.aborted) return Promise.reject(cancelled());
      if (inFlight < limit) {
        take();
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        waiters.push({ resolve: () => { take(); resolve(); }, reject });
      });
    },
    release() {
      inFlight--;
      const next = waiters.shift();
      if (next !== undefined) next.resolve();
    },
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
  };
}

/** Waits `ms`, or less when the visit is cancelled (then throws JobCancelledError). */
export function backOff(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new JobCancelledError(typeof signal.reason === 'string' ? signal.reason : 'cancelled'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new JobCancelledError(typeof signal.reason === 'string' ? signal.reason : 'cancelled'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
