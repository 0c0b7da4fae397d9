/**
 * The backup domain (issue 14): devices' backup classes streamed into restic repositories
 * (on this laptop, a site drive, off-site), verified, copied and pruned. What the other
 * domains may use of it is exported here.
 */
import { defineDomain } from '../kernel/domain.ts';
import { createBackupHandlers } from './backupHandlers.ts';
import { addBackupRepoCommands } from './cli/backupRepoCommands.ts';
import { backupJobKinds } from './jobKinds.ts';
import { createRunHandlers } from './pendingRun.ts';

export { backupFromStdin, type StdinBackup, type StdinBackupRequest, type StdinBackupResult } from './restic/backupFromStdin.ts';
export { findRestic } from './restic/resticBinary.ts';
export { createBackupSettings } from './backupSettings.ts';
export { createRepositoryStore, type RepositoryStore } from './repositoryStore.ts';
export { passwordSecret, resticRepoFor, targetsOf } from './repositories.ts';

export const backupDomain = defineDomain({
  name: 'backup',
  jobKinds: backupJobKinds,
  start(kernel) {
    return { handlers: { ...createRunHandlers(), ...createBackupHandlers(kernel) } };
  },
  cliCommands: [addBackupRepoCommands],
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
