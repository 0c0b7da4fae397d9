/** The jobs panel's line for flash jobs (composed by the shell, see jobs/jobSummary.ts). */
import type { JobSummaries } from '../jobs/jobSummary.ts';
import { summarizeFlash } from './flashJobView.ts';

export const flashJobSummaries = {
  'flash.write': (job) => summarizeFlash(job.result),
} satisfies JobSummaries;
