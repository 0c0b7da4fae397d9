/** The jobs panel's line for courier jobs (composed by the shell, see jobs/jobSummary.ts). */
import type { JobSummaries } from '../jobs/jobSummary.ts';
import { forwardOutcome, pullOutcome } from './courierOutcomes.ts';
import { visitOutcome } from './visitOutcome.ts';

export const courierJobSummaries = {
  'courier.pull': (job) => pullOutcome(job.result, job.title.replace(/^Pull journals from /, '')),
  'courier.forward': (job) => forwardOutcome(job.result)?.text ?? null,
  'courier.visit': (job) => visitOutcome(job.result)?.text ?? null,
} satisfies JobSummaries;
