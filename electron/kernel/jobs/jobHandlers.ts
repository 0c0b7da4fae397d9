/** The jobs.* methods of the app API: history, one job, cancel. */
import { appError, FieldkitError } from '../../../shared/errors.ts';
import type { ApiHandlers } from '../api/dispatch.ts';
import type { JobRunner } from './jobRunner.ts';

type JobMethods = 'jobs.list' | 'jobs.get' | 'jobs.cancel';

export function createJobHandlers(jobs: JobRunner): Pick<ApiHandlers, JobMethods> {
  return {
    'jobs.list': ({ limit, state }) => Promise.resolve({ jobs: jobs.list({ limit: limit ?? 50, state }) }),
    'jobs.get': ({ jobId }) => {
      const job = jobs.get(jobId);
      if (!job) throw new FieldkitError(appError('NOT_FOUND', `There is no job ${jobId}.`, 'List jobs with `fieldkit jobs` and use one of their ids.', 'jobId'));
      return Promise.resolve({ job });
    },
    'jobs.cancel': async ({ jobId }) => ({ job: await jobs.cancel(jobId) }),
  };
}
