/**
 * Long work (flash, deploy, pull, forward, rollout, read checks) runs as a job: starting
 * one returns its id at once, then typed events stream until exactly one final event
 * (done, failed or cancelled).
 */
import { z } from 'zod';
import { backupJobs } from './api/backupMethods.ts';
import { courierJobs } from './api/courierMethods.ts';
import { deployJobs } from './api/deployMethods.ts';
import { devicesJobs } from './api/devicesMethods.ts';
import { drivesJobs } from './api/drivesMethods.ts';
import { flashJobs } from './api/flashMethods.ts';
import { recoveryJobs } from './api/recoveryMethods.ts';
import { AppErrorSchema } from './errors.ts';
import { FlashTargetProgressSchema } from './flash.ts';
import { JobIdSchema, type JobKindContract } from './jobId.ts';
import { VisitProgressSchema } from './siteVisit.ts';

export { JobIdSchema, type JobKindContract } from './jobId.ts';

/**
 * Every job kind: each domain declares its own in its contract file (shared/api/<domain>Methods.ts),
 * so adding a kind touches only that domain's files; a new domain adds one line here.
 */
const jobContracts = {
  ...drivesJobs,
  ...devicesJobs,
  ...courierJobs,
  ...flashJobs,
  ...deployJobs,
  ...backupJobs,
  ...recoveryJobs,
} as const satisfies Record<string, JobKindContract>;
type JobContracts = typeof jobContracts;

export type JobKind = keyof JobContracts;
const jobKinds = Object.keys(jobContracts) as [JobKind, ...JobKind[]];
export const JobKindSchema = z.enum(jobKinds);

/**
 * What each kind of job returns when done. The job's kind (in its domain) carries the same
 * schema, and the runner checks every result a worker sends against it before it is
 * recorded; a reader (the renderer, the CLI) parses `record.result` with it.
 */
export const jobResultSchemas = Object.fromEntries(jobKinds.map((kind) => [kind, jobContracts[kind].result])) as {
  [K in JobKind]: JobContracts[K]['result'];
};
export type JobResultOf<K extends JobKind> = z.infer<(typeof jobResultSchemas)[K]>;

type StoppedKinds = { [K in JobKind]: JobContracts[K] extends { stopped: z.ZodType } ? K : never }[JobKind];
/**
 * What a job of each kind that failed or was cancelled may still carry (one drive of two
 * flashed, the devices a stopped rollout reached); where absent here, the same as its result.
 */
export const jobStoppedResultSchemas = Object.fromEntries(
  jobKinds.flatMap((kind) => {
    const contract: JobKindContract = jobContracts[kind];
    return contract.stopped === undefined ? [] : [[kind, contract.stopped]];
  }),
) as { [K in StoppedKinds]: JobContracts[K] extends { stopped: infer S } ? S : never };

/**
 * A job record's result read as its kind's type: null when it has none, or when it is not
 * what that kind returns (a stopped provisioning's steps, a record of an older version).
 */
export function jobResultOf<K extends JobKind>(record: { kind: JobKind; result: unknown }, kind: K): JobResultOf<K> | null {
  if (record.kind !== kind || record.result === null) return null;
  const parsed = jobResultSchemas[kind].safeParse(record.result);
  return parsed.success ? (parsed.data as JobResultOf<K>) : null;
}

export const JobStateSchema = z.enum(['running', 'done', 'failed', 'cancelled']);
export type JobState = z.infer<typeof JobStateSchema>;

export const JobProgressSchema = z.object({
  /** What the job is doing now, in words a technician understands ("reading", "verifying"). */
  phase: z.string(),
  bytesDone: z.number().nonnegative(),
  bytesTotal: z.number().nonnegative().nullable(),
  /** What bytesDone counts: bytes, or items (hosts probed, records pulled). */
  unit: z.enum(['bytes', 'items']).default('bytes'),
  /** Units per second over the recent window; null until there is enough to measure. */
  rateBytesPerSec: z.number().nonnegative().nullable(),
  etaSeconds: z.number().nonnegative().nullable(),
  /** Per-drive progress of a flash to several drives; the totals above are their sum. */
  targets: z.array(FlashTargetProgressSchema).optional(),
  /** A site visit's overall bytes and its line per device. */
  visit: VisitProgressSchema.optional(),
});
export type JobProgress = z.infer<typeof JobProgressSchema>;

const base = { jobId: JobIdSchema, at: z.number().int() };

export const JobEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('started'), ...base, kind: JobKindSchema, title: z.string() }),
  z.object({ type: z.literal('progress'), ...base, progress: JobProgressSchema }),
  z.object({ type: z.literal('log'), ...base, level: z.enum(['info', 'warn', 'error']), message: z.string() }),
  z.object({ type: z.literal('done'), ...base, result: z.json() }),
  /** `result`: what a job that failed or was cancelled still achieved (a flash's per-drive results). */
  z.object({ type: z.literal('failed'), ...base, error: AppErrorSchema, result: z.json().optional() }),
  z.object({ type: z.literal('cancelled'), ...base, reason: z.string(), result: z.json().optional() }),
]);
export type JobEvent = z.infer<typeof JobEventSchema>;
export type FinalJobEvent = Extract<JobEvent, { type: 'done' | 'failed' | 'cancelled' }>;

export const JobLogLineSchema = z.object({
  at: z.number().int(),
  level: z.enum(['info', 'warn', 'error']),
  message: z.string(),
});

export const JobRecordSchema = z.object({
  id: JobIdSchema,
  kind: JobKindSchema,
  title: z.string(),
  params: z.json(),
  state: JobStateSchema,
  progress: JobProgressSchema.nullable(),
  createdAt: z.number().int(),
  endedAt: z.number().int().nullable(),
  result: z.json().nullable(),
  error: AppErrorSchema.nullable(),
  /** The last log lines, oldest first. */
  log: z.array(JobLogLineSchema),
});
export type JobRecord = z.infer<typeof JobRecordSchema>;

/** True for the events after which a job emits nothing more. */
export function isFinalJobEvent(event: JobEvent): event is FinalJobEvent {
  return event.type === 'done' || event.type === 'failed' || event.type === 'cancelled';
}
