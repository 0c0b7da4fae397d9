/** What the recovery domain's jobs are started with (no secret here: passwords travel as job secrets). */
import { z } from 'zod';
import { BackupClassSchema } from '../../shared/backupStream.ts';
import { RepoKindSchema, RepoRoleSchema, ResticIdSchema } from '../../shared/backup.ts';

const RepoTargetSchema = z.object({ role: RepoRoleSchema, kind: RepoKindSchema, location: z.string() });

/** One class of the restore point: its snapshot and the repository it is restored from. */
export const PointClassParamsSchema = z.object({ class: BackupClassSchema, resticId: ResticIdSchema, repo: RepoTargetSchema, time: z.number().int(), journalLastSeq: z.number().int().nullable() });

export const RestoreParamsSchema = z.object({
  dataDir: z.string(),
  deviceRef: z.string(),
  deviceName: z.string(),
  pointId: z.string(),
  pointTime: z.number().int(),
  classes: z.array(PointClassParamsSchema).min(1),
  /** The point before this one, offered when this one's databases fail their check. */
  previousPointId: z.string().nullable(),
});
export type RestoreParams = z.infer<typeof RestoreParamsSchema>;

export const DrillParamsSchema = z.object({
  dataDir: z.string(),
  deviceRef: z.string(),
  deviceName: z.string(),
  spareRef: z.string(),
  spareName: z.string(),
  pointId: z.string(),
  pointTime: z.number().int(),
  classes: z.array(PointClassParamsSchema).min(1),
  previousPointId: z.string().nullable(),
});
export type DrillParams = z.infer<typeof DrillParamsSchema>;
