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

export const backupDomain = defineDomain({
  name: 'backup',
  jobKinds: backupJobKinds,
  start() {
    return { handlers: { ...createRunHandlers(), ...createBackupHandlers() } };
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
