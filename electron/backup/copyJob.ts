/** The backup.copy job (being written). */
import type { CopyResult } from '../../shared/backup.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { JobContext } from '../kernel/jobs/jobContext.ts';
import type { CopyParams } from './jobParams.ts';

export function runCopy(_params: CopyParams, _ctx: JobContext): Promise<CopyResult> {
  return Promise.reject(new FieldkitError(appError('UNAVAILABLE', 'Not in this build yet.', 'Use a newer build.')));
}
