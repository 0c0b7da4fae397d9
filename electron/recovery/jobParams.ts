/** What the recovery domain's jobs are started with (no secret here: passwords travel as job secrets). */
import { z } from 'zod';
import { BackupClassSchema } from '../../shared/backupStream.ts';
import { RepoKindSchema, RepoRoleSchema, ResticIdSchema } from '../../shared/backup.ts';
import { DeviceSchema } from '../../shared/devices.ts';
import { HealthThresholdsSchema } from '../../shared/fleetHealth.ts';

export const RepoTargetSchema = z.object({ role: RepoRoleSchema, kind: RepoKindSchema, location: z.string() });

/** One class of the restore point: its snapshot and the repository it is restored from. */
export const PointClassParamsSchema = z.object({ class: BackupClassSchema, resticId: ResticIdSchema, repo: RepoTargetSchema, time: z.number().int(), journalLastSeq: z.number().int().nullable() });
export type PointClassParams = z.infer<typeof PointClassParamsSchema>;

const PointParamsSchema = z.object({
  id: z.string(),
  /** The agent's device id the point is of (the identity the restored agent must answer with). */
  deviceId: z.string(),
  time: z.number().int(),
  classes: z.array(PointClassParamsSchema).min(1),
  /** The point before this one, offered when this one fails its check. */
  previousId: z.string().nullable(),
});
export type PointParams = z.infer<typeof PointParamsSchema>;

const BackupFirstSchema = z.object({
  runId: z.string(),
  classes: z.array(BackupClassSchema).min(1),
  repos: z.object({ main: RepoTargetSchema, secrets: RepoTargetSchema }),
  extraPaths: z.partialRecord(BackupClassSchema, z.array(z.string())).default({}),
});

export const RestoreParamsSchema = z.object({
  dataDir: z.string(),
  device: DeviceSchema,
  point: PointParamsSchema,
  /** The classes to put back (a subset of the point's). */
  classes: z.array(BackupClassSchema).min(1),
  /** The backup taken first, so the restore can be undone. */
  backupFirst: BackupFirstSchema,
  thresholds: HealthThresholdsSchema,
});
export type RestoreParams = z.infer<typeof RestoreParamsSchema>;

/** What the laptop knew of the source before the drill (the drill never asks the source itself). */
export const SourceKnownSchema = z.object({
  agentVersion: z.string().nullable(),
  modelVersion: z.string().nullable(),
  /** The source's last health minute the laptop holds (pulled), or null. */
  lastMinute: z.object({ minute_ms: z.number().int(), temp_c_max: z.number().nullable(), cpu_pct_avg: z.number().nullable(), disk_free_min_bytes: z.number().nullable(), mem_available_min_bytes: z.number().nullable() }).nullable(),
  /** Highest journal seq the laptop pulled, and the device's last seq as of that pull. */
  laptopHeldSeq: z.number().int().nullable(),
  deviceLastSeq: z.number().int().nullable(),
});
export type SourceKnown = z.infer<typeof SourceKnownSchema>;

export const DrillParamsSchema = z.object({
  dataDir: z.string(),
  device: DeviceSchema,
  spare: DeviceSchema,
  point: PointParamsSchema,
  source: SourceKnownSchema,
  thresholds: HealthThresholdsSchema,
});
export type DrillParams = z.infer<typeof DrillParamsSchema>;
