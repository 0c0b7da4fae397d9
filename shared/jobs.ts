/**
 * Long work (flash, deploy, pull, forward, rollout, read checks) runs as a job: starting
 * one returns its id at once, then typed events stream until exactly one final event
 * (done, failed or cancelled).
 */
import { z } from 'zod';
import { PullResultSchema, ForwardResultSchema } from './courier.ts';
import { RolloutJobResultSchema } from './deploy.ts';
import { DiscoveryResultSchema } from './devices.ts';
import { ReadCheckResultSchema } from './drives.ts';
import { AppErrorSchema } from './errors.ts';
import { FlashResultSchema, FlashTargetProgressSchema } from './flash.ts';
import { ProvisionJobResultSchema, ProvisionStoppedResultSchema } from './provision.ts';
import { SlotUpdateOutcomeSchema } from './slots.ts';

export const JobKindSchema = z.enum(['drives.readCheck', 'devices.discover', 'courier.pull', 'courier.forward', 'flash.write', 'deploy.rollout', 'devices.provision', 'slots.update']);
export type JobKind = z.infer<typeof JobKindSchema>;

/**
 * What each kind of job returns when done. The job's kind (in its domain) carries the same
 * schema, and the runner checks every result a worker sends against it before it is
 * recorded; a reader (the renderer, the CLI) parses `record.result` with it.
 */
export const jobResultSchemas = {
  'drives.readCheck': ReadCheckResultSchema,
  'devices.discover': DiscoveryResultSchema,
  'courier.pull': PullResultSchema,
  'courier.forward': ForwardResultSchema,
  'flash.write': FlashResultSchema,
  'deploy.rollout': RolloutJobResultSchema,
  'devices.provision': ProvisionJobResultSchema,
  'slots.update': SlotUpdateOutcomeSchema,
} as const satisfies Record<JobKind, z.ZodType>;
export type JobResultOf<K extends JobKind> = z.infer<(typeof jobResultSchemas)[K]>;

/**
 * What a job of each kind that failed or was cancelled may still carry (one drive of two
 * flashed, the devices a stopped rollout reached); where absent here, the same as its result.
 */
export const jobStoppedResultSchemas = {
  'devices.provision': ProvisionStoppedResultSchema,
} as const satisfies Partial<Record<JobKind, z.ZodType>>;

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

export const JobIdSchema = z.string().regex(/^job_[0-9a-z]{6,40}$/, 'a job id looks like job_ followed by letters and digits');

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
