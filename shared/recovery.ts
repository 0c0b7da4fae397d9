/**
 * Recovery as the laptop sees it (issue 15): the restore points of a device, restoring
 * chosen classes of one onto a device (the same one, or a spare in a drill, or a
 * replacement), drills with their RTO and RPO, and the runbook written from what ran.
 * Backups themselves are in backup.ts.
 */
import { z } from 'zod';
import { AppErrorSchema } from './errors.ts';
import { BackupClassSchema } from './backupStream.ts';
import { RepoRoleSchema, ResticIdSchema } from './backup.ts';

/**
 * A restore point's id: the backup run (job) that recorded it. One run of one device gives
 * one point; its classes' snapshots are the ones that run made or confirmed unchanged.
 */
export const RestorePointIdSchema = z.string().min(1).max(128);

/** One class of a restore point: the restic snapshot that holds it. */
export const RestorePointClassSchema = z.object({
  class: BackupClassSchema,
  resticId: ResticIdSchema,
  /** When the device's stream of it was taken (for an unchanged class: the snapshot's own time). */
  time: z.number().int(),
  sizeBytes: z.number().int().nonnegative(),
  files: z.number().int().nonnegative(),
  /** Every place holding it (the laptop, and where `restic copy` carried it). */
  copies: z.array(RepoRoleSchema),
  /** The highest journal seq it holds (state class). */
  journalLastSeq: z.number().int().nonnegative().nullable(),
});
export type RestorePointClass = z.infer<typeof RestorePointClassSchema>;

/** The last verification of a restore point's snapshots (backup verify's sample restores). */
export const PointVerificationSchema = z.object({
  at: z.number().int(),
  /** Every class of the point that was verified came back whole and matching. */
  ok: z.boolean(),
  /** Classes of the point verification has not restored yet. */
  unverified: z.array(BackupClassSchema),
  /** What failed, in words. */
  problems: z.array(z.string()),
});
export type PointVerification = z.infer<typeof PointVerificationSchema>;

export const RestorePointSchema = z.object({
  id: RestorePointIdSchema,
  /** The laptop's device entry. */
  deviceRef: z.string(),
  /** The agent's own device id (the restic host). */
  deviceId: z.string(),
  deviceName: z.string(),
  /** The newest time among its classes: the state the device would go back to. */
  time: z.number().int(),
  classes: z.array(RestorePointClassSchema),
  sizeBytes: z.number().int().nonnegative(),
  agentVersion: z.string().nullable(),
  imageVersion: z.string().nullable(),
  modelVersion: z.string().nullable(),
  /** Places holding every class of it. */
  copies: z.array(RepoRoleSchema),
  lastVerification: PointVerificationSchema.nullable(),
  /** The newest point whose last verification passed: what restore and drill use by default. */
  proposed: z.boolean(),
});
export type RestorePoint = z.infer<typeof RestorePointSchema>;

/** A command a recovery ran, where, and how it went: the runbook is made of these. */
export const RecoveryCommandSchema = z.object({
  /** 'laptop' or the device's name. */
  on: z.string(),
  command: z.string(),
  startedAt: z.number().int(),
  durationMs: z.number().nonnegative(),
  /** Null for a command that did not exit (cut link, cancelled). */
  exitCode: z.number().int().nullable(),
});
export type RecoveryCommand = z.infer<typeof RecoveryCommandSchema>;

export const RecoveryStepStatusSchema = z.enum(['done', 'failed', 'skipped']);

/** One step of a restore or drill (RTO's split per step). */
export const RecoveryStepSchema = z.object({
  /** Stable name ('backup-before', 'check-databases', 'stop-services', 'restore-config', …). */
  name: z.string(),
  /** What it did, in words. */
  title: z.string(),
  status: RecoveryStepStatusSchema,
  startedAt: z.number().int(),
  durationMs: z.number().nonnegative(),
  commands: z.array(RecoveryCommandSchema),
  /** What it found or why it failed / was skipped. */
  detail: z.string().nullable(),
});
export type RecoveryStep = z.infer<typeof RecoveryStepSchema>;

/** A correctness check after the services started. */
export const RecoveryCheckSchema = z.object({
  name: z.enum(['hello', 'journal', 'ingest', 'health', 'databases', 'files']),
  ok: z.boolean(),
  detail: z.string(),
});
export type RecoveryCheck = z.infer<typeof RecoveryCheckSchema>;

/** How much was lost: the age of the restored state and what was recorded after it. */
export const RpoSchema = z.object({
  /** When the restored state was taken (the restore point's time). */
  restoredStateAt: z.number().int(),
  ageSeconds: z.number().nonnegative(),
  /** The journal seq the restored state holds, and the newest known after it. */
  restoredJournalSeq: z.number().int().nonnegative().nullable(),
  /** Records the laptop pulled after the restored state (seq above it). */
  recordsAfterOnLaptop: z.number().int().nonnegative().nullable(),
  /** Records the source device holds after it, per its last known health/journal (null: not known). */
  recordsAfterOnDevice: z.number().int().nonnegative().nullable(),
});
export type Rpo = z.infer<typeof RpoSchema>;

/** What a restore onto the same device did. */
export const RestoreResultSchema = z.object({
  deviceRef: z.string(),
  deviceName: z.string(),
  pointId: RestorePointIdSchema,
  classes: z.array(BackupClassSchema),
  /** The backup run taken first (its point id), so the restore itself can be undone. */
  undoPointId: RestorePointIdSchema.nullable(),
  steps: z.array(RecoveryStepSchema),
  checks: z.array(RecoveryCheckSchema),
  ok: z.boolean(),
  durationMs: z.number().nonnegative(),
  /** The runbook written from what ran (in the data folder). */
  runbookPath: z.string().nullable(),
  recoveryRunId: z.number().int().positive().nullable(),
});
export type RestoreResult = z.infer<typeof RestoreResultSchema>;

/** The source's last health next to the spare's first, for the drill report. */
export const HealthComparisonSchema = z.object({
  metric: z.string(),
  source: z.string().nullable(),
  restored: z.string().nullable(),
  ok: z.boolean(),
});

/** What a drill did: the latest backup restored onto a spare, checked, measured. */
export const DrillResultSchema = z.object({
  deviceRef: z.string(),
  deviceName: z.string(),
  spareRef: z.string(),
  spareName: z.string(),
  pointId: RestorePointIdSchema,
  classes: z.array(BackupClassSchema),
  steps: z.array(RecoveryStepSchema),
  checks: z.array(RecoveryCheckSchema),
  comparison: z.array(HealthComparisonSchema),
  /** Start to healthy, ms, with the split per step in `steps`. */
  rtoMs: z.number().nonnegative(),
  rpo: RpoSchema,
  ok: z.boolean(),
  runbookPath: z.string().nullable(),
  recoveryRunId: z.number().int().positive().nullable(),
});
export type DrillResult = z.infer<typeof DrillResultSchema>;

export const RecoveryKindSchema = z.enum(['restore', 'drill', 'replace']);
export type RecoveryKind = z.infer<typeof RecoveryKindSchema>;

/** One restore, drill or replace in the history (per device). */
export const RecoveryRunSchema = z.object({
  id: z.number().int().positive(),
  kind: RecoveryKindSchema,
  deviceRef: z.string(),
  deviceName: z.string(),
  /** The device restored onto (the same one for a restore; the spare for a drill or replace). */
  targetRef: z.string(),
  targetName: z.string(),
  pointId: RestorePointIdSchema.nullable(),
  startedAt: z.number().int(),
  endedAt: z.number().int(),
  ok: z.boolean(),
  rtoMs: z.number().nonnegative().nullable(),
  rpoAgeSeconds: z.number().nonnegative().nullable(),
  error: AppErrorSchema.nullable(),
  runbookPath: z.string().nullable(),
});
export type RecoveryRun = z.infer<typeof RecoveryRunSchema>;

/** Drill freshness of one device (the `drill-stale` alert when stale). */
export const DrillFreshnessSchema = z.object({
  deviceRef: z.string(),
  deviceName: z.string(),
  lastDrillAt: z.number().int().nullable(),
  lastDrillOk: z.boolean().nullable(),
  /** The last drill that passed (the window counts from it). */
  lastPassedAt: z.number().int().nullable(),
  windowDays: z.number().int().positive(),
  stale: z.boolean(),
});
export type DrillFreshness = z.infer<typeof DrillFreshnessSchema>;

/** Default days between drills before `drill-stale` is raised. */
export const DEFAULT_DRILL_WINDOW_DAYS = 30;
