/**
 * The one list of job summaries: each domain's own map, composed here. The type makes the
 * build fail when a job kind in shared/jobs.ts has no summary.
 */
import { backupJobSummaries } from '../backup/jobSummaries.ts';
import { courierJobSummaries } from '../courier/jobSummaries.ts';
import { deployJobSummaries } from '../deploy/jobSummaries.ts';
import { devicesJobSummaries } from '../devices/jobSummaries.ts';
import { drivesJobSummaries } from '../drives/jobSummaries.ts';
import { flashJobSummaries } from '../flash/jobSummaries.ts';
import { recoveryJobSummaries } from '../recovery/jobSummaries.ts';
import type { AllJobSummaries } from '../jobs/jobSummary.ts';

export const jobSummaries = {
  ...drivesJobSummaries,
  ...devicesJobSummaries,
  ...flashJobSummaries,
  ...deployJobSummaries,
  ...courierJobSummaries,
  ...backupJobSummaries,
  ...recoveryJobSummaries,
} satisfies AllJobSummaries;
