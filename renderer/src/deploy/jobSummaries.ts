/** The jobs panel's line for deploy jobs, OS slot updates included (composed by the shell, see jobs/jobSummary.ts). */
import { SlotUpdateOutcomeSchema, summarizeSlotUpdate } from '../../../shared/slots.ts';
import type { JobSummaries } from '../jobs/jobSummary.ts';
import { summarizeRollout } from './rolloutView.ts';

export const deployJobSummaries = {
  'deploy.rollout': (job) => summarizeRollout(job.result),
  'slots.update': (job) => {
    const outcome = SlotUpdateOutcomeSchema.safeParse(job.result);
    return outcome.success ? summarizeSlotUpdate(outcome.data) : null;
  },
} satisfies JobSummaries;
