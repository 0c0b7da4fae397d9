/**
 * PLACEHOLDER owned by brun (issue 14, the backup job itself): the `backup.run` job kind and
 * the `backup.start` / `backup.list` handlers. Until brun's branch replaces this file they
 * answer UNAVAILABLE saying so; this must never ship (the lead checks it is gone).
 */
import { z } from 'zod';
import type { BackupRunResult } from '../../shared/backup.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { ApiHandlers } from '../kernel/api/dispatch.ts';

export const BackupRunParamsSchema = z.object({ dataDir: z.string() });

function notYet(what: string): FieldkitError {
  return new FieldkitError(appError('UNAVAILABLE', `${what} is not in this build of fieldkit yet (issue 14, in progress).`, 'Use a build that includes the backup job.'));
}

export function runBackup(): Promise<BackupRunResult> {
  return Promise.reject(notYet('Running a backup'));
}

export function createRunHandlers(): Pick<ApiHandlers, 'backup.start' | 'backup.list'> {
  return {
    'backup.start': () => Promise.reject(notYet('Running a backup')),
    'backup.list': () => Promise.reject(notYet('Listing backups')),
  };
}
