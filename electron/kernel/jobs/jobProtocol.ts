/**
 * Messages between the job runner and a job's worker process (Node IPC). Both sides
 * validate what they receive: a worker is a separate program and may be broken.
 */
import { z } from 'zod';
import { AppErrorSchema } from '../../../shared/errors.ts';
import { FlashTargetProgressSchema } from '../../../shared/flash.ts';
import { JobKindSchema } from '../../../shared/jobs.ts';
import { VisitProgressSchema } from '../../../shared/siteVisit.ts';

export const RunnerToWorkerSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('start'),
    jobId: z.string(),
    kind: JobKindSchema,
    params: z.json(),
    /** Secrets the job needs (a ClickHouse password): sent over IPC only, never kept in job history. */
    secrets: z.record(z.string(), z.string()).optional(),
  }),
  z.object({ type: z.literal('cancel'), reason: z.string() }),
]);
export type RunnerToWorker = z.infer<typeof RunnerToWorkerSchema>;

export const WorkerProgressSchema = z.object({
  phase: z.string(),
  bytesDone: z.number().nonnegative(),
  bytesTotal: z.number().nonnegative().nullable(),
  unit: z.enum(['bytes', 'items']).optional(),
  /** Bytes received over a link, passed through as JobProgress.bytesReceived. */
  bytesReceived: z.number().nonnegative().optional(),
  /** Per-drive progress of a flash, passed through as JobProgress.targets. */
  targets: z.array(FlashTargetProgressSchema).optional(),
  /** A site visit's lines per device, passed through as JobProgress.visit. */
  visit: VisitProgressSchema.optional(),
});
export type WorkerProgress = z.infer<typeof WorkerProgressSchema>;

export const WorkerToRunnerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('progress'), progress: WorkerProgressSchema }),
  z.object({ type: z.literal('log'), level: z.enum(['info', 'warn', 'error']), message: z.string() }),
  z.object({ type: z.literal('done'), result: z.json() }),
  z.object({ type: z.literal('failed'), error: AppErrorSchema, result: z.json().optional() }),
  z.object({ type: z.literal('cancelled'), reason: z.string(), result: z.json().optional() }),
]);
export type WorkerToRunner = z.infer<typeof WorkerToRunnerSchema>;

const JsonSchema = z.json();
export type JsonValue = z.infer<typeof JsonSchema>;

/** A value as plain JSON data (dates become strings, undefined fields vanish). */
export function toJsonValue(value: unknown): JsonValue {
  return JsonSchema.parse(JSON.parse(JSON.stringify(value ?? null)));
}
