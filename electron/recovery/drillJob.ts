/** The recovery.drill job (being written). */
import type { DrillResult } from '../../shared/recovery.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { JobContext } from '../kernel/jobs/jobContext.ts';
import type { DrillParams } from './jobParams.ts';

export function runDrill(_params: DrillParams, _ctx: JobContext): Promise<DrillResult> {
  return Promise.reject(new FieldkitError(appError('UNAVAILABLE', 'Drill is being written.', 'Use a build with issue 15.')));
}
