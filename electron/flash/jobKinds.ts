/** The flash domain's job kinds. */
import { jobResultSchemas } from '../../shared/jobs.ts';
import { defineJobKind } from '../kernel/jobs/jobKind.ts';
import { FlashJobParamsSchema, flashJobTitle, runFlashJob } from './flashJob.ts';

export const flashJobKinds = {
  'flash.write': defineJobKind({
    params: FlashJobParamsSchema,
    title: flashJobTitle,
    run: runFlashJob,
    // Also what a flash that failed or was cancelled carries: every drive's outcome.
    result: jobResultSchemas['flash.write'],
  }),
};
