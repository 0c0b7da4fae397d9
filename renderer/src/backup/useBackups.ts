/**
 * What the Backups screen shows, kept current: freshness, snapshots and problems
 * (`backup.list`), the repositories (`settings.backup.get`) and the devices — refetched when
 * a backup job ends, on `devices.changed`, and every minute so ages and "overdue" move on.
 */
import { useEffect, useMemo } from 'react';
import type { BackupSettingsView } from '../../../shared/backup.ts';
import { isFinalJobEvent } from '../../../shared/jobs.ts';
import { useApi, useEvent, type ApiQuery } from '../api/hooks.ts';
import { useDevices } from '../devices/index.ts';
import type { JobView } from '../jobs/jobStore.ts';
import { useJobStore, useJobs } from '../jobs/useJobs.ts';
import { backupRows, type BackupDeviceRow, type BackupListing } from './backupRows.ts';

export type BackupsData = {
  rows: readonly BackupDeviceRow[] | null;
  listing: ApiQuery<BackupListing>;
  settings: ApiQuery<{ settings: BackupSettingsView }>;
  devicesLoading: boolean;
  reload: () => void;
};

const refreshMs = 60_000;

export function useBackupsData(): BackupsData {
  const listing = useApi('backup.list', {});
  const settings = useApi('settings.backup.get', {});
  const devices = useDevices();
  const store = useJobStore();
  const reloadList = listing.reload;
  const reloadSettings = settings.reload;

  useEvent('devices.changed', () => {
    reloadList();
  });
  useEvent('job.event', (event) => {
    if (!isFinalJobEvent(event)) return;
    const kind = store.get(event.jobId)?.kind;
    // A job this window never saw may be a backup started from the CLI: refetch.
    if (kind !== undefined && !kind.startsWith('backup.')) return;
    reloadList();
    // A first backup creates the repositories (and a recovery key to show); verify and copy change their lines.
    reloadSettings();
  });
  useEffect(() => {
    const timer = setInterval(reloadList, refreshMs);
    return () => {
      clearInterval(timer);
    };
  }, [reloadList]);

  const rows = useMemo(
    () => (listing.value === null || devices.value === null ? null : backupRows(devices.value, listing.value)),
    [devices.value, listing.value],
  );
  return {
    rows,
    listing,
    settings,
    devicesLoading: devices.loading,
    reload: () => {
      reloadList();
      reloadSettings();
      devices.reload();
    },
  };
}

/** The backup jobs running now, wherever they were started, newest first. */
export function useRunningBackupJobs(): readonly JobView[] {
  const jobs = useJobs();
  return useMemo(() => jobs.filter((job) => job.state === 'running' && job.kind.startsWith('backup.')), [jobs]);
}

/** Where the running copy jobs copy to (their `to` parameter). */
export function runningCopies(running: readonly JobView[]): ReadonlySet<'site' | 'offsite'> {
  const targets = new Set<'site' | 'offsite'>();
  for (const job of running) {
    if (job.kind !== 'backup.copy' || typeof job.params !== 'object' || job.params === null || Array.isArray(job.params)) continue;
    const to = job.params.to;
    if (to === 'site' || to === 'offsite') targets.add(to);
  }
  return targets;
}
