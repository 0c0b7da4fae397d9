/**
 * A site visit: every device of a site (or a selection, or all) pulled in one job, a few at
 * a time. Safety events of every device travel before bulk records of any device; a
 * device that fails is retried with backoff and then reported with the reason, the rest
 * carry on. What the job reports while it runs (a line per device) and what it returns.
 */
import { z } from 'zod';
import { PullResultSchema } from './courier.ts';
import { DeviceRefSchema } from './devices.ts';
import { AppErrorSchema } from './errors.ts';

export const defaultVisitParallel = 4;
export const maxVisitParallel = 32;
export const VisitParallelSchema = z.number().int().min(1).max(maxVisitParallel);

/**
 * Where a device stands in the visit: `waiting` for a slot, `safety` (its safety events),
 * `safety_done` (waiting for the other devices' safety events before any bulk record
 * travels), `bulk`, `retrying` (backing off after a failure), then one of the ends.
 */
export const VisitDeviceStateSchema = z.enum(['waiting', 'connecting', 'safety', 'safety_done', 'bulk', 'retrying', 'done', 'failed', 'cancelled']);
export type VisitDeviceState = z.infer<typeof VisitDeviceStateSchema>;

/** One device's line in the visit's progress. */
export const VisitDeviceLineSchema = z.object({
  deviceRef: z.string(),
  name: z.string(),
  site: z.string(),
  state: VisitDeviceStateSchema,
  /** Records carried so far (safety events, then the rest). */
  records: z.number().int().nonnegative(),
  /** Records the device had to send when the visit reached it; null before it answered. */
  recordsTotal: z.number().int().nonnegative().nullable(),
  /** Bytes received from the device's agent (all attempts). */
  bytes: z.number().int().nonnegative(),
  /** Connection attempts so far (1 on the first try). */
  attempt: z.number().int().nonnegative(),
  /** What the technician should know now: why it is retrying, why it failed. */
  note: z.string().nullable(),
});
export type VisitDeviceLine = z.infer<typeof VisitDeviceLineSchema>;

/** The visit's part of a job's progress (JobProgress.visit): overall bytes and a line per device. */
export const VisitProgressSchema = z.object({
  parallel: z.number().int().positive(),
  /** Devices connected right now (never more than `parallel`). */
  inFlight: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  bytesPerSec: z.number().nonnegative().nullable(),
  devices: z.array(VisitDeviceLineSchema),
});
export type VisitProgress = z.infer<typeof VisitProgressSchema>;

export const VisitDeviceOutcomeSchema = z.object({
  deviceRef: z.string(),
  name: z.string(),
  site: z.string(),
  status: z.enum(['done', 'failed', 'cancelled', 'not_started']),
  /** Connection attempts over both passes. */
  attempts: z.number().int().nonnegative(),
  /** Attempts after a failure (attempts that were retries). */
  retries: z.number().int().nonnegative(),
  safetyRecords: z.number().int().nonnegative(),
  /** The device's pull (null when it did not finish). */
  pull: PullResultSchema.nullable(),
  bytes: z.number().int().nonnegative(),
  seconds: z.number().nonnegative(),
  /** Why it failed, and what to do. */
  error: AppErrorSchema.nullable(),
});
export type VisitDeviceOutcome = z.infer<typeof VisitDeviceOutcomeSchema>;

/** What a visit job did (also what a failed or cancelled one still carries). */
export const SiteVisitResultSchema = z.object({
  /** "site north-field", "all devices", "3 devices". */
  scope: z.string(),
  parallel: z.number().int().positive(),
  /** The most devices connected at once, as counted by the visit. */
  maxInFlight: z.number().int().nonnegative(),
  devices: z.array(VisitDeviceOutcomeSchema),
  records: z.number().int().nonnegative(),
  newRecords: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  seconds: z.number().nonnegative(),
  /** When the bulk pass started (epoch ms; null when it never did): every safety pass had ended by then. */
  bulkStartedMs: z.number().int().nullable(),
});
export type SiteVisitResult = z.infer<typeof SiteVisitResultSchema>;

/** Which devices a visit takes: one site, some devices by id, or every device. */
export const VisitRequestSchema = z
  .strictObject({
    site: z.string().min(1).max(128).optional(),
    ids: z.array(DeviceRefSchema).min(1).max(1000).optional(),
    all: z.literal(true).optional(),
    parallel: VisitParallelSchema.default(defaultVisitParallel),
  })
  .refine((r) => [r.site !== undefined, r.ids !== undefined, r.all === true].filter(Boolean).length === 1, {
    message: 'say which devices: a site, a list of device ids, or all (exactly one)',
  });
