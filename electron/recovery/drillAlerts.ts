/**
 * The `drill-stale` health alert: a device with a good backup and no passed drill within its
 * window (default 30 days). Listed with the device's own alerts (fleet grid marker,
 * `fieldkit health`), as backup-stale is. Read from the store at most every few seconds: the
 * health service asks for every device every second.
 */
import type { HealthAlert } from '../../shared/fleetHealth.ts';
import type { BackupRunStore } from '../backup/index.ts';
import type { DeviceStore } from '../devices/index.ts';
import { drillFreshness } from './drillFreshness.ts';
import type { RecoveryRunStore } from './recoveryRunStore.ts';

const CACHE_MS = 5_000;
const DAY_MS = 86_400_000;

export type DrillAlerts = (deviceRef: string) => HealthAlert[];

export function createDrillAlerts(devices: DeviceStore, backups: BackupRunStore, runs: RecoveryRunStore, now: () => number = Date.now): DrillAlerts {
  let cached: { atMs: number; byRef: Map<string, HealthAlert[]> } | null = null;
  return (ref) => {
    const at = now();
    if (cached === null || at - cached.atMs >= CACHE_MS) {
      const byRef = new Map<string, HealthAlert[]>();
      for (const f of drillFreshness(devices.list(), backups, runs, at)) {
        if (!f.stale) continue;
        const device = devices.find(f.deviceRef);
        const since = (f.lastPassedAt ?? device?.addedMs ?? at) + f.windowDays * DAY_MS;
        byRef.set(f.deviceRef, [
          {
            code: 'drill-stale',
            severity: 'warning',
            title: f.lastPassedAt === null ? (f.lastDrillAt === null ? 'Never drilled' : 'No drill has passed yet') : `No passed drill for ${String(Math.floor((at - f.lastPassedAt) / DAY_MS))} days`,
            explanation: `${f.deviceName}'s backups have not been restored onto a spare within ${String(f.windowDays)} days${f.lastDrillOk === false ? ' (the last drill failed)' : ''}: nobody knows whether they would bring it back, or how long that takes.`,
            action: `Run \`fieldkit drill ${f.deviceName} --onto SPARE\` (or Backups → Drill) with a spare Pi.`,
            sinceMs: Math.min(since, at),
          },
        ]);
      }
      cached = { atMs: at, byRef };
    }
    return cached.byRef.get(ref) ?? [];
  };
}
