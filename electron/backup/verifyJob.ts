/** The backup.verify job (being written). */
import type { VerifyResult } from '../../shared/backup.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { JobContext } from '../kernel/jobs/jobContext.ts';
import type { VerifyParams } from './jobParams.ts';

export function runVerify(_params: VerifyParams, _ctx: JobContext): Promise<VerifyResult> {
  return Promise.reject(new FieldkitError(appError('UNAVAILABLE', 'Not in this build yet.', 'Use a newer build.')));
}
