/** The backup.forget job (being written). */
import type { ForgetResult } from '../../shared/backup.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { JobContext } from '../kernel/jobs/jobContext.ts';
import type { ForgetParams } from './jobParams.ts';

export function runForget(_params: ForgetParams, _ctx: JobContext): Promise<ForgetResult> {
  return Promise.reject(new FieldkitError(appError('UNAVAILABLE', 'Not in this build yet.', 'Use a newer build.')));
}
