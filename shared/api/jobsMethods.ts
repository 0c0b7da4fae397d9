/** Jobs: long work in worker processes, with history. */
import { z } from 'zod';
import { JobIdSchema, JobRecordSchema, JobStateSchema } from '../jobs.ts';
import type { MethodSpec } from './methodSpec.ts';

export const jobsMethods = {
  'jobs.list': {
    summary: 'Jobs, newest first, including those from earlier runs of the app.',
    request: z.strictObject({
      limit: z.number().int().min(1).max(500).optional(),
      state: JobStateSchema.optional(),
    }),
    response: z.object({ jobs: z.array(JobRecordSchema) }),
  },
  'jobs.get': {
    summary: 'One job with its progress, result or error and last log lines.',
    request: z.strictObject({ jobId: JobIdSchema }),
    response: z.object({ job: JobRecordSchema }),
  },
  'jobs.cancel': {
    summary: 'Cancel a running job; it stops cleanly and leaves nothing half-done.',
    request: z.strictObject({ jobId: JobIdSchema }),
    response: z.object({ job: JobRecordSchema }),
  },
} as const satisfies Record<string, MethodSpec>;
