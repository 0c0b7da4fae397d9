/**
 * The backup domain (issue 14): devices' backup classes streamed into restic repositories
 * (on this laptop, a site drive, off-site), verified, copied and pruned. What the other
 * domains may use of it is exported here.
 */
import { devicesService } from '../devices/index.ts';
import { defineDomain } from '../kernel/domain.ts';
import { serviceKey } from '../kernel/domainServices.ts';
import { createBackupHandlers } from './backupHandlers.ts';
import { createRunHandlers, type BackupFreshnessAlerts } from './backupRunHandlers.ts';
import { addBackupRepoCommands } from './cli/backupRepoCommands.ts';
import { addBackupRunCommands } from './cli/backupRunCommands.ts';
import { backupJobKinds } from './jobKinds.ts';

export type { BackupFreshnessAlerts } from './backupRunHandlers.ts';

/**
 * A device's backup freshness as health alerts ("No good backup of state for 9 days"): the
 * health domain lists them with the device's own, in the fleet grid and `fieldkit health`.
 */
export const backupFreshnessService = serviceKey<BackupFreshnessAlerts>('the backup freshness alerts');

export { backupFromStdin, type StdinBackup, type StdinBackupRequest, type StdinBackupResult } from './restic/backupFromStdin.ts';
export { findRestic } from './restic/resticBinary.ts';
export { createBackupSettings } from './backupSettings.ts';
export { createRepositoryStore, type RepositoryStore } from './repositoryStore.ts';
export { passwordSecret, resticRepoFor, targetsOf } from './repositories.ts';
// The recovery domain restores from the same repositories and runs.
export { runRestic, startRestic, type ResticRepo } from './restic/resticProcess.ts';
export { restoreTest } from './verify/sampleRestore.ts';
export { createBackupRunStore, type BackupRunRow, type BackupRunStore } from './backupRunStore.ts';
export type { RepoTarget } from './jobParams.ts';
export { agentCommand as agentRootCommand } from './backupJobPlan.ts';
export { runBackup, type BackupRunParams } from './backupJob.ts';
export { prepareLaptopRepos } from './laptopRepos.ts';
export { locationOf } from './repositories.ts';

export const backupDomain = defineDomain({
  name: 'backup',
  jobKinds: backupJobKinds,
  start(kernel, services) {
    const run = createRunHandlers(kernel, services.use(devicesService).store);
    services.provide(backupFreshnessService, run.freshnessAlerts);
    return { handlers: { ...run.handlers, ...createBackupHandlers(kernel) } };
  },
  cliCommands: [addBackupRunCommands, addBackupRepoCommands],
  cliCommandFor: {
    'backup.start': 'backup',
    'backup.list': 'backup list',
    'backup.verify': 'backup verify',
    'backup.copy': 'backup copy',
    'backup.forget': 'backup forget',
    'backup.history': 'backup history',
    'settings.backup.get': 'backup repo',
    'settings.backup.set': 'backup repo',
  },
});
