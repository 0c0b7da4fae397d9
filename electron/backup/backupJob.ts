/**
 * The `backup.run` job: for each device of the selection and each class, stream the class
 * from the device into restic (backupJobItem.ts) and record the snapshot in backup_runs
 * only after restic reported it — or, when the device's probe shows the class unchanged
 * since its last good snapshot, record that instead of streaming (unchangedCheck.ts).
 * Devices run side by side (at most `deviceLimit`), and each device's classes too
 * (backupDeviceRun.ts). Progress is the bytes read from the devices; the total (and so the
 * ETA) comes from each device × class's previous good snapshot, unknown until every item
 * has one.
 *
 * Resumable: the job carries `windowStartMs`, the start of the run it continues (the
 * handler finds it). A device × class with a good snapshot recorded since then is not
 * taken again, so a rerun after a cut link or a killed app redoes only what did not finish.
 */
import type { BackupItemResult, BackupRunResult } from '../../shared/backup.ts';
import type { Device } from '../../shared/devices.ts';
import { appError } from '../../shared/errors.ts';
import { createDeviceStore } from '../devices/index.ts';
import { JobCancelledError, JobFailedError, type JobContext } from '../kernel/jobs/jobContext.ts';
import { loadOrCreateAppSshKey } from '../kernel/link/appSshKey.ts';
import { openStore } from '../kernel/store/openStore.ts';
import { runDevice, type DeviceItem } from './backupDeviceRun.ts';
import { skipReason } from './backupJobPlan.ts';
import { createBackupProgress } from './backupProgress.ts';
import { createBackupRunStore } from './backupRunStore.ts';
import type { BackupRunParams } from './jobParams.ts';
import { runBounded } from './runBounded.ts';

export { BackupRunParamsSchema, type BackupRunParams } from './jobParams.ts';

/** Classes of one device streamed at once, and devices at once (2 cores and one disk on a laptop). */
const classLimit = 3;
const deviceLimit = 2;

export async function runBackup(params: BackupRunParams, ctx: JobContext): Promise<BackupRunResult> {
  const db = openStore(params.dataDir);
  try {
    const devices = createDeviceStore(db);
    const runs = createBackupRunStore(db);
    // Every item's result by key, in the order of the selection (devices, then classes).
    const order: string[] = [];
    const results = new Map<string, BackupItemResult>();
    const planned = new Map<string, { device: Device; items: DeviceItem[] }>();
    for (const wanted of params.devices) {
      const device = devices.find(wanted.ref);
      for (const backupClass of params.classes) {
        const key = `${wanted.ref}\0${backupClass}`;
        order.push(key);
        const base = { deviceId: device?.agentDeviceId ?? wanted.ref, deviceName: wanted.name, class: backupClass, bytesRead: 0, bytesAdded: 0, files: 0, durationMs: 0 };
        if (device === null) {
          results.set(key, { ...base, status: 'failed', snapshotId: null, error: appError('NOT_FOUND', `${wanted.name} is no longer a registered device.`, 'Add it again in Devices, then back it up.') });
          continue;
        }
        const good = runs.lastGood(device.id, backupClass);
        if (good !== null && good.endedMs >= params.windowStartMs) {
          results.set(key, { ...base, deviceId: good.deviceId, status: 'skipped', snapshotId: good.snapshotId, bytesRead: good.streamBytes, files: good.files, error: null });
          ctx.log('info', `${device.name} ${backupClass}: backed up already in this run (snapshot ${good.snapshotId?.slice(0, 8) ?? ''}); not taken again.`);
          continue;
        }
        const skip = skipReason(device, backupClass);
        if (skip !== null) {
          results.set(key, { ...base, status: 'skipped', snapshotId: null, error: appError('UNAVAILABLE', `Not backed up: ${skip}.`, 'Back it up over the network.') });
          ctx.log('warn', `${device.name} ${backupClass}: skipped — ${skip}.`);
          continue;
        }
        const entry = planned.get(device.id) ?? { device, items: [] };
        entry.items.push({ key, device, backupClass, estimate: good?.streamBytes ?? null, lastGood: good });
        planned.set(device.id, entry);
      }
    }
    const all = [...planned.values()];
    const progress = createBackupProgress(ctx, new Map(all.flatMap((d) => d.items.map((i) => [i.key, i.estimate] as const))));
    const deps = { params, ctx, runs, progress, appKey: loadOrCreateAppSshKey(params.dataDir), results, classLimit };
    const ordered = () => ({ items: order.flatMap((k) => results.get(k) ?? []) });
    try {
      await runBounded(all, deviceLimit, (d) => runDevice(d.device, d.items, deps));
    } catch (error) {
      if (error instanceof JobCancelledError || ctx.signal.aborted) throw new JobCancelledError(ctx.signal.aborted && typeof ctx.signal.reason === 'string' ? ctx.signal.reason : 'cancelled', ordered());
      throw error;
    }
    const result = ordered();
    const failed = result.items.filter((r) => r.status === 'failed');
    if (failed.length > 0) {
      const first = failed[0]?.error;
      throw new JobFailedError(
        appError(
          first?.code ?? 'IO_ERROR',
          `${String(failed.length)} of ${String(result.items.length)} backups did not complete (no snapshot of them counts): ${failed.map((f) => `${f.deviceName} ${f.class}`).join(', ')}. ${first?.message ?? ''}`,
          first?.hint ?? 'Run the backup again; it redoes only what did not finish.',
        ),
        result,
      );
    }
    return result;
  } finally {
    db.close();
  }
}
