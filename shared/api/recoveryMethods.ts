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
import { ReplaceResultSchema } from '../recoveryReplace.ts';
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
  'recovery.replace': {
    summary: 'Replace a dead device with a spare (already running over SSH, or a card flashed with the image it ran and its first-boot identity): secrets (host keys) restored or rotated, the same agent deployed, config and state restored, the journal continued, verified; resumable (a job).',
    request: z.strictObject({
      deviceId: DeviceRefSchema,
      /** The spare, already running: host and port of its sshd. */
      onto: z.strictObject({ host: z.string().min(1).max(253), port: z.number().int().min(1).max(65535).default(22), username: z.string().min(1).max(32).default('pi') }).optional(),
      /** The spare's card: the image the device last ran flashed onto it with the device's first-boot identity; the spare then boots and answers at `onto`. */
      drive: z.string().min(1).max(4096).optional(),
      /** How long to wait for the spare booted from `drive` to answer SSH (default 600). */
      bootWaitSeconds: z.number().int().min(1).max(3600).optional(),
      /** The spare's own SSH host key fingerprint as the technician checked it (SHA256:…); a freshly flashed spare's is learned after it boots (the replace stops and names it). */
      spareHostKey: z.string().regex(/^SHA256:[A-Za-z0-9+/]+$/, 'a host key fingerprint reads SHA256:…').optional(),
      /** The signed agent bundle of the version the device ran; absent when the spare already runs it. */
      agentBundlePath: z.string().min(1).max(4096).optional(),
      /** New SSH host keys pinned, the old one refused from then on (after a compromise). */
      rotateCredentials: z.boolean().default(false),
    }),
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
  'recovery.replace': { result: ReplaceResultSchema },
} as const satisfies Record<string, JobKindContract>;
