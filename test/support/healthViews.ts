/**
 * Waiting on what the health service emits: the next `health.changed` view of a device
 * that passes a test, and a watch lease kept alive the way a screen keeps it.
 */
import type { AppServices } from '../../electron/app/appServices.ts';
import type { EventPayloadOf } from '../../shared/api.ts';
import type { DeviceHealthView } from '../../shared/fleetHealth.ts';

export type HealthViewSeen = {
  view: DeviceHealthView;
  /** When the event came. */
  atMs: number;
  /** How long after the call. */
  afterMs: number;
};

/**
 * Resolves with the first view of device `ref` (from now on) that passes `test`; after
 * `timeoutMs` it rejects, saying what the device showed last.
 */
export function nextHealthView(app: Pick<AppServices, 'events' | 'health'>, ref: string, test: (v: DeviceHealthView) => boolean, timeoutMs: number): Promise<HealthViewSeen> {
  const from = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`no matching view of ${ref} within ${String(timeoutMs)} ms; last: ${lastSeen(app, ref)}`));
    }, timeoutMs);
    const unsubscribe = app.events.subscribe((name, payload) => {
      if (name !== 'health.changed') return;
      const view = (payload as EventPayloadOf<'health.changed'>).views.find((v) => v.deviceId === ref && test(v));
      if (!view) return;
      clearTimeout(timer);
      unsubscribe();
      const atMs = Date.now();
      resolve({ view, atMs, afterMs: atMs - from });
    });
  });
}

function lastSeen(app: Pick<AppServices, 'health'>, ref: string): string {
  try {
    const now = app.health.device(ref).view;
    return `${now.status} ${JSON.stringify(now.alerts.map((a) => a.title))} ${JSON.stringify(now.sample?.service)} ${now.linkError ?? ''}`;
  } catch (error) {
    return `(no view: ${error instanceof Error ? error.message : String(error)})`;
  }
}

/** Watches every device as a screen does: a 15 s lease, renewed every 3 s until `stop()`. */
export async function watchHealthLikeAScreen(app: Pick<AppServices, 'handlers'>): Promise<{ stop(): void }> {
  await app.handlers['health.watch']({ leaseSeconds: 15 });
  const timer = setInterval(() => {
    void app.handlers['health.watch']({ leaseSeconds: 15 });
  }, 3000);
  return {
    stop: () => {
      clearInterval(timer);
    },
  };
}
