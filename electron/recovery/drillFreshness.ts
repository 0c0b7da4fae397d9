/**
 * Drill freshness per device: a device with a good backup that was not drilled (with success)
 * within its window (default 30 days) is stale — the `drill-stale` alert. A device never
 * drilled counts its window from when it was added, as backup freshness does; a device with
 * no good backup has nothing to drill (backup-stale says so).
 */
import type { Device } from '../../shared/devices.ts';
import { DEFAULT_DRILL_WINDOW_DAYS, type DrillFreshness } from '../../shared/recovery.ts';
import { BackupClassSchema } from '../../shared/backupStream.ts';
import type { BackupRunStore } from '../backup/index.ts';
import type { RecoveryRunStore } from './recoveryRunStore.ts';

const DAY_MS = 86_400_000;

export function drillFreshness(devices: readonly Device[], backups: BackupRunStore, runs: RecoveryRunStore, nowMs: number, windowDays = DEFAULT_DRILL_WINDOW_DAYS): DrillFreshness[] {
  const drills = runs.lastDrills();
  const passed = runs.lastDrills({ passedOnly: true });
  return devices
    .filter((d) => BackupClassSchema.options.some((c) => backups.lastGood(d.id, c) !== null))
    .map((device) => {
      const last = drills.get(device.id);
      // A failed drill proves nothing: only a passed one restarts the window.
      const since = passed.get(device.id)?.endedAt ?? device.addedMs;
      return {
        deviceRef: device.id,
        deviceName: device.name,
        lastDrillAt: last?.endedAt ?? null,
        lastDrillOk: last?.ok ?? null,
        lastPassedAt: passed.get(device.id)?.endedAt ?? null,
        windowDays,
        stale: nowMs - since > windowDays * DAY_MS,
      };
    });
}
