/** Backups: run them, list them with their freshness, verify, copy to the site drive / off-site, apply retention. */
import { z } from 'zod';
import {
  BackupFreshnessSchema,
  BackupProblemSchema,
  BackupRunResultSchema,
  BackupSettingsPatchSchema,
  BackupSettingsViewSchema,
  BackupSnapshotSchema,
  CopyResultSchema,
  ForgetResultSchema,
  RecoveryKeySchema,
  RepoRoleSchema,
  RetentionPreviewSchema,
  VerificationEntrySchema,
  VerifyResultSchema,
} from '../backup.ts';
import { BackupClassSchema } from '../backupStream.ts';
import { DeviceRefSchema } from '../devices.ts';
import { JobIdSchema, type JobKindContract } from '../jobId.ts';
import type { MethodSpec } from './methodSpec.ts';

/** A device as its agent names itself (the restic host of its snapshots). */
const AgentDeviceIdSchema = z.string().min(1).max(128);

export const backupMethods = {
  'backup.start': {
    summary: 'Back up devices (some, a site, or all) class by class into the laptop repository (a job).',
    request: z.strictObject({
      /** The laptop's device entries (their ids); or `site`, or `all`. */
      deviceIds: z.array(DeviceRefSchema).min(1).max(10_000).optional(),
      site: z.string().min(1).max(128).optional(),
      all: z.boolean().optional(),
      /** Every class when absent. */
      classes: z.array(BackupClassSchema).min(1).max(4).optional(),
    }),
    response: z.object({ jobId: JobIdSchema }),
  },
  'backup.list': {
    summary: 'Freshness per device and class, the snapshots with their copies, and what verification found wrong.',
    request: z.strictObject({ deviceId: AgentDeviceIdSchema.optional() }),
    response: z.object({
      freshness: z.array(BackupFreshnessSchema),
      snapshots: z.array(BackupSnapshotSchema),
      problems: z.array(BackupProblemSchema),
    }),
  },
  'backup.verify': {
    summary: 'Prove the backups restorable: restic check of a rolling slice, sample restores hashed against the device manifest, SQLite integrity (a job).',
    request: z.strictObject({
      /** Every created repository when absent. */
      repo: RepoRoleSchema.optional(),
    }),
    response: z.object({ jobId: JobIdSchema }),
  },
  'backup.copy': {
    summary: "Copy the laptop's snapshots (both repositories) to the site drive or off-site with restic copy (a job).",
    request: z.strictObject({ to: z.enum(['site', 'offsite']) }),
    response: z.object({ jobId: JobIdSchema }),
  },
  'backup.forget': {
    summary: 'Retention per device and class (restic forget --prune): a preview with dryRun, else a job that applies it.',
    request: z.strictObject({
      dryRun: z.boolean().default(true),
      deviceId: AgentDeviceIdSchema.optional(),
      class: BackupClassSchema.optional(),
      repo: RepoRoleSchema.default('laptop'),
    }),
    response: z.discriminatedUnion('dryRun', [
      z.object({ dryRun: z.literal(true), preview: RetentionPreviewSchema }),
      z.object({ dryRun: z.literal(false), jobId: JobIdSchema }),
    ]),
  },
  'backup.history': {
    summary: 'Verification history, newest first: per repository, and per device through its sample restores.',
    request: z.strictObject({
      repo: RepoRoleSchema.optional(),
      deviceId: AgentDeviceIdSchema.optional(),
      limit: z.number().int().min(1).max(1000).default(50),
    }),
    response: z.object({ entries: z.array(VerificationEntrySchema) }),
  },
  'settings.backup.get': {
    summary: 'The backup repositories (laptop, site drive, off-site), the per-class policies and verification settings.',
    request: z.strictObject({}),
    response: z.object({ settings: BackupSettingsViewSchema }),
  },
  'settings.backup.set': {
    summary: 'Set the site drive / off-site repository, policies and verification; a repository created answers its recovery key once.',
    request: BackupSettingsPatchSchema,
    response: z.object({ settings: BackupSettingsViewSchema, recoveryKeys: z.array(RecoveryKeySchema) }),
  },
} as const satisfies Record<string, MethodSpec>;

/** The backup domain's job kinds and what each returns. */
export const backupJobs = {
  'backup.run': { result: BackupRunResultSchema },
  'backup.verify': { result: VerifyResultSchema },
  'backup.copy': { result: CopyResultSchema },
  'backup.forget': { result: ForgetResultSchema },
} as const satisfies Record<string, JobKindContract>;
