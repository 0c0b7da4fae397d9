/** Recovery: a device's restore points, restore onto it, drills onto a spare, their history and runbooks. */
import { z } from 'zod';
import { BackupClassSchema } from '../backupStream.ts';
import { DeviceRefSchema } from '../devices.ts';
import { JobIdSchema, type JobKindContract } from '../jobId.ts';
import {
  DrillFreshnessSchema,
  DrillResultSchema,
  RecoveryRunSchema,
  RestorePointIdSchema,
  RestorePointSchema,
  RestoreResultSchema,
} from '../recovery.ts';
import type { MethodSpec } from './methodSpec.ts';

export const recoveryMethods = {
  'recovery.points': {
    summary: "A device's restore points, newest first (time, classes, size, versions, copies, last verification); the newest verified one proposed.",
    request: z.strictObject({ deviceId: DeviceRefSchema }),
    response: z.object({ points: z.array(RestorePointSchema), proposedId: RestorePointIdSchema.nullable() }),
  },
  'recovery.restore': {
    summary: 'Restore classes of a restore point onto the same device: backup first (undo), databases checked, services stopped and started in order, then verified (a job).',
    request: z.strictObject({
      deviceId: DeviceRefSchema,
      /** The proposed point when absent. A restic snapshot id (8+ hex digits) names the point holding it. */
      pointId: RestorePointIdSchema.optional(),
      /** Every class of the point when absent. */
      classes: z.array(BackupClassSchema).min(1).max(4).optional(),
    }),
    response: z.object({ jobId: JobIdSchema }),
  },
  'recovery.drill': {
    summary: "Restore a device's latest good backup onto a spare, check it, compare with the source, report RTO and RPO; never touches the source (a job).",
    request: z.strictObject({ deviceId: DeviceRefSchema, onto: DeviceRefSchema, pointId: RestorePointIdSchema.optional() }),
    response: z.object({ jobId: JobIdSchema }),
  },
  'recovery.history': {
    summary: 'Restores, drills and replaces, newest first, with drill freshness per device.',
    request: z.strictObject({ deviceId: DeviceRefSchema.optional(), limit: z.number().int().min(1).max(1000).default(50) }),
    response: z.object({ runs: z.array(RecoveryRunSchema), drills: z.array(DrillFreshnessSchema) }),
  },
  'recovery.runbook': {
    summary: 'The runbook (Markdown) written from what a restore, drill or replace actually ran.',
    request: z.strictObject({ runId: z.number().int().positive() }),
    response: z.object({ path: z.string(), markdown: z.string() }),
  },
} as const satisfies Record<string, MethodSpec>;

/** The recovery domain's job kinds and what each returns (replace is added by its own work). */
export const recoveryJobs = {
  'recovery.restore': { result: RestoreResultSchema },
  'recovery.drill': { result: DrillResultSchema },
} as const satisfies Record<string, JobKindContract>;
