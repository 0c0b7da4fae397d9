/**
 * Freshness is never silent: per device and class, the last good backup (a row of
 * backup_runs, so only what restic reported after a verified stream), its age, size, where
 * its copies are, and whether it is older than the class's window. A device never backed
 * up counts its window from when it was added, so a Pi added this morning is not overdue
 * yet, and one added a month ago and never backed up is.
 *
 * `freshnessAlerts` turns the stale ones into the health alert the fleet grid and
 * `fieldkit health` show ("No good backup of state for 9 days — run fieldkit backup pi-7").
 */
import type { BackupFreshness, BackupPolicies, BackupProblem, RepoRole } from '../../shared/backup.ts';
import { BackupClassSchema, backupClassLabels, type BackupClass } from '../../shared/backupStream.ts';
import type { Device } from '../../shared/devices.ts';
import type { HealthAlert } from '../../shared/fleetHealth.ts';
import type { BackupRunRow, BackupRunStore } from './backupRunStore.ts';

const DAY_MS = 24 * 60 * 60_000;

export type FreshnessInputs = {
  runs: BackupRunStore;
  policies: BackupPolicies;
  /** The places (besides the laptop) holding a copy of this laptop snapshot. */
  copiesOf: (run: BackupRunRow) => RepoRole[];
  /** What verification last found wrong for this device × class, if anything. */
  problemOf?: (deviceId: string, backupClass: BackupClass) => BackupProblem | null;
  nowMs: number;
};

/** One device × class. */
export function freshnessOf(device: Pick<Device, 'id' | 'name' | 'site' | 'agentDeviceId' | 'addedMs'>, backupClass: BackupClass, inputs: FreshnessInputs): BackupFreshness {
  const good = inputs.runs.lastGood(device.id, backupClass);
  const last = inputs.runs.lastAttempt(device.id, backupClass);
  const windowDays = inputs.policies[backupClass].freshnessDays;
  const reference = good?.endedMs ?? device.addedMs;
  const deviceId = good?.deviceId ?? device.agentDeviceId ?? device.id;
  return {
    deviceId,
    deviceRef: device.id,
    deviceName: device.name,
    site: device.site,
    class: backupClass,
    lastGoodAt: good?.endedMs ?? null,
    ageSeconds: good === null ? null : Math.max(0, (inputs.nowMs - good.endedMs) / 1000),
    sizeBytes: good?.streamBytes ?? null,
    resticId: good?.snapshotId ?? null,
    copies: good === null ? [] : ['laptop', ...inputs.copiesOf(good).filter((r) => r !== 'laptop')],
    windowDays,
    stale: inputs.nowMs - reference > windowDays * DAY_MS,
    lastError: last !== null && last.outcome === 'failed' && (good === null || last.endedMs > good.endedMs) ? last.error : null,
    problem: inputs.problemOf?.(deviceId, backupClass) ?? null,
  };
}

/** Every class of a device. */
export function deviceFreshness(device: Device, inputs: FreshnessInputs): BackupFreshness[] {
  return BackupClassSchema.options.map((c) => freshnessOf(device, c, inputs));
}

function days(ms: number): string {
  const d = Math.floor(ms / DAY_MS);
  return d === 1 ? '1 day' : `${String(d)} days`;
}

/**
 * The health alert for a device's stale classes (one alert, naming each), or none. Its
 * `sinceMs` is the moment the first class went overdue, so it does not move.
 */
export function freshnessAlerts(device: Pick<Device, 'name' | 'addedMs'>, freshness: readonly BackupFreshness[], nowMs: number): HealthAlert[] {
  const stale = freshness.filter((f) => f.stale);
  if (stale.length === 0) return [];
  const overdueSince = (f: BackupFreshness) => (f.lastGoodAt ?? device.addedMs) + f.windowDays * DAY_MS;
  const worst = [...stale].sort((a, b) => overdueSince(a) - overdueSince(b))[0] ?? stale[0];
  if (worst === undefined) return [];
  const phrase = (f: BackupFreshness) =>
    f.lastGoodAt === null
      ? `no good backup of ${f.class} ever (added ${days(nowMs - device.addedMs)} ago; window ${String(f.windowDays)} days)`
      : `no good backup of ${f.class} for ${days(nowMs - f.lastGoodAt)} (window ${String(f.windowDays)} days)`;
  const classes = stale.map((f) => f.class);
  const onlyClass = classes.length === 1 ? ` --class ${classes[0] ?? ''}` : '';
  const failed = stale.find((f) => f.lastError !== null)?.lastError ?? null;
  return [
    {
      code: 'backup-stale',
      severity: 'warning',
      title: worst.lastGoodAt === null ? `Never backed up (${worst.class})` : `No good backup of ${worst.class} for ${days(nowMs - worst.lastGoodAt)}`,
      explanation:
        `${device.name} has ${stale.map(phrase).join('; ')}. If its SD card dies now, ${stale.map((f) => backupClassLabels[f.class]).join(', ')} would be lost with it.` +
        (failed === null ? '' : ` The last attempt failed: ${failed.message}`),
      action: `Run \`fieldkit backup ${device.name}${onlyClass}\` (or Backups → Run) while the Pi is reachable over the network.`,
      sinceMs: overdueSince(worst),
    },
  ];
}
