/**
 * The live fleet for the Health screen: `health.fleet` on entry and after every reconnect,
 * then each `health.changed` merged into the fleet store (published once per frame), and
 * the watch lease renewed while the screen is open — the service stops watching devices
 * nobody looks at once the lease runs out.
 */
import { useEffect, useState, useSyncExternalStore } from 'react';
import type { AppError } from '../../../shared/errors.ts';
import { useBridge, useConnectionOpens, useEvent } from '../api/hooks.ts';
import { createFleetStore, type FleetSnapshot, type FleetStore } from './fleetStore.ts';

/** Long enough to survive a slow renewal, short enough that a closed window stops the watch soon. */
export const leaseSeconds = 30;
const renewEveryMs = 10_000;

export type FleetHealth = { store: FleetStore; snapshot: FleetSnapshot; error: AppError | null };

export function useFleetHealth(): FleetHealth {
  const bridge = useBridge();
  const opens = useConnectionOpens();
  const [store] = useState(() => createFleetStore((flush) => requestAnimationFrame(flush)));
  const [error, setError] = useState<AppError | null>(null);

  useEvent('health.changed', ({ views }) => {
    store.apply(views);
  });
  // A device added, renamed or removed: health.changed only speaks of devices it watches.
  const [devicesChanged, setDevicesChanged] = useState(0);
  useEvent('devices.changed', () => {
    setDevicesChanged((n) => n + 1);
  });

  useEffect(() => {
    let current = true;
    function renew(): void {
      void bridge.invoke('health.watch', { leaseSeconds }).then((result) => {
        if (current && !result.ok) setError(result.error);
      });
    }
    renew();
    void bridge.invoke('health.fleet', {}).then((result) => {
      if (!current) return;
      if (result.ok) {
        store.replaceAll(result.value.views);
        setError(null);
      } else {
        setError(result.error);
      }
    });
    const timer = setInterval(renew, renewEveryMs);
    return () => {
      current = false;
      clearInterval(timer);
    };
  }, [bridge, opens, store, devicesChanged]);

  const snapshot = useSyncExternalStore(store.subscribe, store.snapshot);
  return { store, snapshot, error };
}
