/**
 * Schema history of the laptop store, in order: entry i is migration i + 1, and
 * `PRAGMA user_version` counts how many a store has applied. Append only: a released
 * migration is never edited or reordered, so every laptop in the field reaches the same
 * schema by the same steps. A change is a new file in migrations/ and one line here.
 */
import { jobHistory } from './migrations/0001-job-history.ts';
import { devices } from './migrations/0002-devices.ts';
import { courier } from './migrations/0003-courier.ts';
import { forwardQuarantine } from './migrations/0004-forward-quarantine.ts';
import { trustedKeys } from './migrations/0005-trusted-keys.ts';
import { recentImages } from './migrations/0006-recent-images.ts';
import { rollouts } from './migrations/0007-rollouts.ts';
import { healthForwarded } from './migrations/0008-health-forwarded.ts';
import { backupRepositories } from './migrations/0009-backup-repositories.ts';
import { backupRuns } from './migrations/0010-backup-runs.ts';
import { backupUnchanged } from './migrations/0011-backup-unchanged.ts';
import { recoveryRuns } from './migrations/0012-recovery-runs.ts';
import { recoveryReplaceSteps } from './migrations/0013-recovery-replace-steps.ts';

export const migrations: readonly string[] = [
  jobHistory,
  devices,
  courier,
  forwardQuarantine,
  trustedKeys,
  recentImages,
  rollouts,
  healthForwarded,
  backupRepositories,
  backupRuns,
  backupUnchanged,
  recoveryRuns,
  recoveryReplaceSteps,
];
