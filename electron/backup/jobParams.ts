/** What the backup domain's own jobs are started with (no secret here: passwords travel as job secrets). */
import { z } from 'zod';
import { BackupClassSchema } from '../../shared/backupStream.ts';
import { RepoKindSchema, RepoRoleSchema, RetentionSchema } from '../../shared/backup.ts';

/** A repository as a job reaches it: where, and the secret name its password travels under. */
export const RepoTargetSchema = z.object({
  role: RepoRoleSchema,
  kind: RepoKindSchema,
  location: z.string(),
});
export type RepoTarget = z.infer<typeof RepoTargetSchema>;

export const BackupRunParamsSchema = z.object({
  dataDir: z.string(),
  /** This run's id (kept with each device × class it records). */
  runId: z.string(),
  devices: z.array(z.object({ ref: z.string(), name: z.string() })).min(1),
  classes: z.array(BackupClassSchema).min(1),
  /** A device × class backed up good since then is done already (the run this one resumes). */
  windowStartMs: z.number().int(),
  repos: z.object({ main: RepoTargetSchema, secrets: RepoTargetSchema }),
  /** Paths the policy adds to each class (`--path` of backup-stream). */
  extraPaths: z.partialRecord(BackupClassSchema, z.array(z.string())).default({}),
});
export type BackupRunParams = z.infer<typeof BackupRunParamsSchema>;

export const VerifyParamsSchema = z.object({
  dataDir: z.string(),
  repos: z.array(RepoTargetSchema).min(1),
  subsetRuns: z.number().int().positive(),
});
export type VerifyParams = z.infer<typeof VerifyParamsSchema>;

export const CopyParamsSchema = z.object({
  dataDir: z.string(),
  to: z.enum(['site', 'offsite']),
  pairs: z.array(z.object({ from: RepoTargetSchema, to: RepoTargetSchema })).min(1),
});
export type CopyParams = z.infer<typeof CopyParamsSchema>;

export const ForgetParamsSchema = z.object({
  dataDir: z.string(),
  repos: z.array(RepoTargetSchema).min(1),
  deviceId: z.string().nullable(),
  class: BackupClassSchema.nullable(),
  retention: z.object({ config: RetentionSchema, state: RetentionSchema, data: RetentionSchema, secrets: RetentionSchema }),
});
export type ForgetParams = z.infer<typeof ForgetParamsSchema>;

