/** Drives attached to this computer. */
import { z } from 'zod';
import { DriveSchema, ReadCheckResultSchema } from '../drives.ts';
import { JobIdSchema, type JobKindContract } from '../jobId.ts';
import type { MethodSpec } from './methodSpec.ts';

export const drivesMethods = {
  'drives.list': {
    summary: 'Drives attached to this computer, each with whether it may be flashed and why not.',
    request: z.strictObject({
      /** When given, drives smaller than this are refused as TOO_SMALL. */
      imageSizeBytes: z.number().int().positive().optional(),
    }),
    response: z.object({ drives: z.array(DriveSchema) }),
  },
  'drives.readCheck': {
    summary: 'Read a whole drive once to measure its speed and find unreadable regions (a job).',
    request: z.strictObject({
      device: z.string().min(1, 'name a device such as /dev/sdb'),
      /** Stop after this many bytes (a quick check); the whole drive when absent. */
      maxBytes: z.number().int().positive().optional(),
    }),
    response: z.object({ jobId: JobIdSchema }),
  },
} as const satisfies Record<string, MethodSpec>;

/** The drives domain's job kinds and what each returns. */
export const drivesJobs = {
  'drives.readCheck': { result: ReadCheckResultSchema },
} as const satisfies Record<string, JobKindContract>;
