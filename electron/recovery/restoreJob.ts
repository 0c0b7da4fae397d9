/** The recovery.restore job (being written). */
import type { RestoreResult } from '../../shared/recovery.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { JobContext } from '../kernel/jobs/jobContext.ts';
import type { RestoreParams } from './jobParams.ts';

export function runRestore(_params: RestoreParams, _ctx: JobContext): Promise<RestoreResult> {
  return Promise.reject(new FieldkitError(appError('UNAVAILABLE', 'Restore is being written.', 'Use a build with issue 15.')));
}
