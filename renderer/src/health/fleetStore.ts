/**
 * The fleet as the grid sees it: one view per device, merged from `health.fleet` and every
 * `health.changed`. Changes are gathered and published once per animation frame, so fifty
 * devices sampling each second cost at most one React render per frame, and a device whose
 * view did not change keeps the same object (its memoised tile does not re-render).
 */
import type { DeviceHealthView } from '../../../shared/fleetHealth.ts';

export type FleetSnapshot = {
  views: ReadonlyMap<string, DeviceHealthView>;
  /** False until the first `health.fleet` answer. */
  loaded: boolean;
};

export type FrameScheduler = (flush: () => void) => void;

export type FleetStore = {
  /** Replaces everything (the answer of `health.fleet`, after a mount or a reconnect). */
  replaceAll: (views: readonly DeviceHealthView[]) => void;
  /** Merges the views of one `health.changed`; published at the next frame. */
  apply: (views: readonly DeviceHealthView[]) => void;
  subscribe: (listener: () => void) => () => void;
  snapshot: () => FleetSnapshot;
  get: (deviceId: string) => DeviceHealthView | undefined;
};

/** `schedule` is requestAnimationFrame in the window (a plain queue in tests). */
export function createFleetStore(schedule: FrameScheduler): FleetStore {
  let current: FleetSnapshot = { views: new Map(), loaded: false };
  let pending = new Map<string, DeviceHealthView>();
  let scheduled = false;
  const listeners = new Set<() => void>();

  function publish(next: FleetSnapshot): void {
    current = next;
    for (const listener of [...listeners]) listener();
  }

  function flush(): void {
    scheduled = false;
    if (pending.size === 0) return;
    const views = new Map(current.views);
    for (const [id, view] of pending) views.set(id, view);
    pending = new Map();
    publish({ views, loaded: current.loaded });
  }

  return {
    replaceAll(views) {
      // Anything gathered before this answer is older than it.
      pending = new Map();
      publish({ views: new Map(views.map((view) => [view.deviceId, view])), loaded: true });
    },
    apply(views) {
      for (const view of views) pending.set(view.deviceId, view);
      if (!scheduled && pending.size > 0) {
        scheduled = true;
        schedule(flush);
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    snapshot: () => current,
    get: (deviceId) => pending.get(deviceId) ?? current.views.get(deviceId),
  };
}
