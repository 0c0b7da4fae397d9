/** The jobs panel's line for drives jobs (composed by the shell, see jobs/jobSummary.ts). */
import type { JobSummaries } from '../jobs/jobSummary.ts';
import { summarizeReadCheck } from './readCheckSummary.ts';

export const drivesJobSummaries = {
  'drives.readCheck': (job) => summarizeReadCheck(job.result),
} satisfies JobSummaries;
