/** A job's id: what starting a job answers at once (shared/jobs.ts holds the rest of a job's contract). */
import { z } from 'zod';

export const JobIdSchema = z.string().regex(/^job_[0-9a-z]{6,40}$/, 'a job id looks like job_ followed by letters and digits');

/**
 * What a domain declares for each job kind it runs: the result a finished job carries and,
 * where it differs, what a failed or cancelled one may still carry (one drive of two
 * flashed, the steps a stopped provisioning ran). shared/jobs.ts composes every domain's table.
 */
export type JobKindContract = { result: z.ZodType; stopped?: z.ZodType };
