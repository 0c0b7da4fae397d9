/**
 * Backups as the laptop sees them (issue 14): the restic repositories (laptop, site drive,
 * off-site), the per-class policies, snapshots as the app lists them, freshness per device
 * and class, and what the backup, verify, copy and forget jobs return. What a device sends
 * is in backupStream.ts.
 */
import { z } from 'zod';
import { AppErrorSchema } from './errors.ts';
import { BackupClassSchema, type BackupClass } from './backupStream.ts';

/** Where a repository is: on this laptop (always), a site drive (a USB SSD path), off-site (any restic URL). */
export const RepoRoleSchema = z.enum(['laptop', 'site', 'offsite']);
export type RepoRole = z.infer<typeof RepoRoleSchema>;

export const repoRoleLabels: Record<RepoRole, string> = { laptop: 'this laptop', site: 'site drive', offsite: 'off-site' };

/**
 * Each place holds two restic repositories: `main` (config, state, data) and `secrets` (the
 * secrets class, with its own password, so that class is encrypted with a separate key).
 */
export const RepoKindSchema = z.enum(['main', 'secrets']);
export type RepoKind = z.infer<typeof RepoKindSchema>;

/** The repository a class's snapshots live in. */
export function repoKindOf(backupClass: BackupClass): RepoKind {
  return backupClass === 'secrets' ? 'secrets' : 'main';
}

/** A restic snapshot id: 64 hex digits (the app keeps the full id; shows the first 8). */
export const ResticIdSchema = z.string().regex(/^[0-9a-f]{64}$/, 'a restic snapshot id (64 hex digits)');

/** `restic forget --keep-*` figures for one class; 0 means that rule keeps nothing. */
export const RetentionSchema = z.strictObject({
  keepLast: z.number().int().min(0).max(10_000),
  keepHourly: z.number().int().min(0).max(10_000),
  keepDaily: z.number().int().min(0).max(10_000),
  keepWeekly: z.number().int().min(0).max(10_000),
  keepMonthly: z.number().int().min(0).max(10_000),
});
export type Retention = z.infer<typeof RetentionSchema>;

/** An absolute path on the device the technician adds to a class. */
const DevicePathSchema = z.string().trim().startsWith('/', 'an absolute path on the device').max(1024);

export const ClassPolicySchema = z.strictObject({
  /** A device with no good backup of this class for longer raises the freshness alert. */
  freshnessDays: z.number().int().min(1).max(3650),
  retention: RetentionSchema,
  /** Paths added to the class (config: more of /etc; data: an inference app's data folder). */
  extraPaths: z.array(DevicePathSchema).max(100),
});
export type ClassPolicy = z.infer<typeof ClassPolicySchema>;

export const BackupPoliciesSchema = z.strictObject({
  config: ClassPolicySchema,
  state: ClassPolicySchema,
  data: ClassPolicySchema,
  secrets: ClassPolicySchema,
});
export type BackupPolicies = z.infer<typeof BackupPoliciesSchema>;

const hourlyState: Retention = { keepLast: 3, keepHourly: 24, keepDaily: 14, keepWeekly: 8, keepMonthly: 12 };
const slowClass: Retention = { keepLast: 3, keepHourly: 0, keepDaily: 7, keepWeekly: 8, keepMonthly: 24 };

export const defaultBackupPolicies: BackupPolicies = {
  config: { freshnessDays: 30, retention: slowClass, extraPaths: [] },
  state: { freshnessDays: 7, retention: hourlyState, extraPaths: [] },
  data: { freshnessDays: 30, retention: slowClass, extraPaths: [] },
  secrets: { freshnessDays: 30, retention: slowClass, extraPaths: [] },
};

export const VerifySettingsSchema = z.strictObject({
  /** `restic check --read-data-subset=k/n`: each run reads 1/n of the data; a full pass takes n runs. */
  subsetRuns: z.number().int().min(1).max(1000),
});
export type VerifySettings = z.infer<typeof VerifySettingsSchema>;
export const defaultVerifySettings: VerifySettings = { subsetRuns: 10 };

/** One restic repository (a role's main or secrets repository). */
export const RepositoryViewSchema = z.object({
  role: RepoRoleSchema,
  kind: RepoKindSchema,
  /** A folder path, or a restic URL (`sftp:user@host:/path`, `s3:…`, `rest:…`). */
  location: z.string(),
  /** Created (restic init) by this app; false for a configured place not yet created. */
  initialized: z.boolean(),
  createdAt: z.number().int().nullable(),
  /** The recovery key (the repository password) was shown when created; false when it still waits to be shown. */
  recoveryKeyShown: z.boolean(),
  /** The next `--read-data-subset` slice (k of n) verification will read. */
  nextSubset: z.number().int().positive(),
  lastVerifiedAt: z.number().int().nullable(),
  lastVerifyOk: z.boolean().nullable(),
  /** For site and off-site: when `restic copy` last filled it. */
  lastCopyAt: z.number().int().nullable(),
});
export type RepositoryView = z.infer<typeof RepositoryViewSchema>;

export const BackupSettingsViewSchema = z.object({
  /** Every repository: the laptop's two always, site and off-site when configured. */
  repositories: z.array(RepositoryViewSchema),
  siteDrivePath: z.string().nullable(),
  offsiteUrl: z.string().nullable(),
  policies: BackupPoliciesSchema,
  verify: VerifySettingsSchema,
  /** Said beside the settings (a site drive on the laptop's own disk is not a second medium). */
  warnings: z.array(z.string()),
  /** Where the repository passwords are kept, in words. */
  passwordStore: z.string(),
});
export type BackupSettingsView = z.infer<typeof BackupSettingsViewSchema>;

export const BackupSettingsPatchSchema = z.strictObject({
  /** Create the laptop's repositories now (otherwise the first backup creates them). */
  createLaptop: z.boolean().optional(),
  /** An absolute folder on a site drive; null removes it from the settings (the drive is not touched). */
  siteDrivePath: z.string().trim().startsWith('/', 'an absolute folder path').max(4096).nullable().optional(),
  /** Any restic repository URL (`sftp:user@host:/path`, `rest:https://…`, `s3:…`); null removes it. */
  offsiteUrl: z.string().trim().min(3).max(4096).nullable().optional(),
  policies: z.strictObject({ config: ClassPolicySchema.partial(), state: ClassPolicySchema.partial(), data: ClassPolicySchema.partial(), secrets: ClassPolicySchema.partial() }).partial().optional(),
  verify: VerifySettingsSchema.partial().optional(),
  /** Show the recovery keys of repositories created by a backup and never shown yet (once). */
  revealRecoveryKeys: z.boolean().optional(),
});
export type BackupSettingsPatch = z.infer<typeof BackupSettingsPatchSchema>;

/** A recovery key, answered exactly once (at creation, or the first reveal). Never logged. */
export const RecoveryKeySchema = z.object({
  role: RepoRoleSchema,
  kind: RepoKindSchema,
  location: z.string(),
  recoveryKey: z.string(),
  /** What to do with it, in words the UI and CLI show beside it. */
  warning: z.string(),
});
export type RecoveryKey = z.infer<typeof RecoveryKeySchema>;

/** A snapshot as the app lists it. */
export const BackupSnapshotSchema = z.object({
  /**
   * The laptop's device entry it was taken from, when known: `deviceId` is the agent's own id,
   * which the laptop's entry may not know yet (so the Backups screen joins on this).
   */
  deviceRef: z.string().nullable().optional(),
  /** The repository it was found in (the laptop's, or a copy's when the laptop no longer has it). */
  repo: RepoRoleSchema,
  resticId: ResticIdSchema,
  deviceId: z.string(),
  site: z.string().nullable(),
  class: BackupClassSchema,
  time: z.number().int(),
  /** Bytes of the class's tar stream (restic's total_bytes_processed). */
  sizeBytes: z.number().int().nonnegative(),
  files: z.number().int().nonnegative(),
  agentVersion: z.string().nullable(),
  imageVersion: z.string().nullable(),
  modelVersion: z.string().nullable(),
  /** Every place holding it (the laptop, and the places `restic copy` carried it to). */
  copies: z.array(RepoRoleSchema),
});
export type BackupSnapshot = z.infer<typeof BackupSnapshotSchema>;

/** What verification found wrong, for the alert and the freshness line of the device or repository. */
export const BackupProblemSchema = z.object({
  at: z.number().int(),
  role: RepoRoleSchema,
  kind: RepoKindSchema,
  /** Null when the whole repository is at fault (a damaged pack); a device and class when its sample failed. */
  deviceId: z.string().nullable(),
  class: BackupClassSchema.nullable(),
  message: z.string(),
  hint: z.string(),
});
export type BackupProblem = z.infer<typeof BackupProblemSchema>;

/** Freshness of one device × class. */
export const BackupFreshnessSchema = z.object({
  deviceId: z.string(),
  /** The laptop's device entry (`deviceId` is the agent's id, unknown to the entry until its agent answers). */
  deviceRef: z.string().nullable().optional(),
  /** The laptop's name for the device, when it knows it. */
  deviceName: z.string().nullable(),
  site: z.string().nullable(),
  class: BackupClassSchema,
  lastGoodAt: z.number().int().nullable(),
  ageSeconds: z.number().nonnegative().nullable(),
  sizeBytes: z.number().int().nonnegative().nullable(),
  resticId: ResticIdSchema.nullable(),
  copies: z.array(RepoRoleSchema),
  windowDays: z.number().int().positive(),
  /** No good backup within the window (or none at all). */
  stale: z.boolean(),
  /** The last attempt's error, when it failed after the last good one. */
  lastError: AppErrorSchema.nullable(),
  /** Verification of its latest snapshot failed (null: passed or not verified yet). */
  problem: BackupProblemSchema.nullable(),
});
export type BackupFreshness = z.infer<typeof BackupFreshnessSchema>;

/** One device × class of a backup job. */
export const BackupItemResultSchema = z.object({
  deviceId: z.string(),
  deviceName: z.string(),
  class: BackupClassSchema,
  /**
   * 'unchanged': the device's probe showed nothing changed since the last good snapshot
   * (`snapshotId`), so nothing was streamed; that snapshot is confirmed current as of now.
   */
  status: z.enum(['done', 'unchanged', 'failed', 'skipped']),
  snapshotId: ResticIdSchema.nullable(),
  /** Bytes of the stream restic read. */
  bytesRead: z.number().int().nonnegative(),
  /** What the repository grew by (restic's data_added): near 0 for an unchanged device. */
  bytesAdded: z.number().int().nonnegative(),
  files: z.number().int().nonnegative(),
  durationMs: z.number().nonnegative(),
  error: AppErrorSchema.nullable(),
});
export type BackupItemResult = z.infer<typeof BackupItemResultSchema>;

export const BackupRunResultSchema = z.object({ items: z.array(BackupItemResultSchema) });
export type BackupRunResult = z.infer<typeof BackupRunResultSchema>;

/** A file of a sample restore that did not come back as the device's manifest says. */
export const SampleFailureSchema = z.object({
  path: z.string(),
  /** 'hash': bytes differ from the manifest's SHA-256; 'missing': not in the snapshot; 'sqlite': integrity_check failed. */
  reason: z.enum(['hash', 'missing', 'sqlite']),
  detail: z.string(),
});

/** The random-sample restore of one device × class's latest snapshot. */
export const SampleRestoreSchema = z.object({
  deviceId: z.string(),
  class: BackupClassSchema,
  resticId: ResticIdSchema,
  filesChecked: z.number().int().nonnegative(),
  sqliteChecked: z.number().int().nonnegative(),
  failures: z.array(SampleFailureSchema),
  /** The restore itself failed (restic dump broke, no manifest in the snapshot). */
  error: z.string().nullable(),
  ok: z.boolean(),
});
export type SampleRestore = z.infer<typeof SampleRestoreSchema>;

/** One verification of one repository: a history entry. */
export const VerificationEntrySchema = z.object({
  id: z.number().int().positive(),
  at: z.number().int(),
  role: RepoRoleSchema,
  kind: RepoKindSchema,
  location: z.string(),
  /** The slice `restic check --read-data-subset=k/n` read. */
  subset: z.object({ k: z.number().int().positive(), n: z.number().int().positive() }),
  checkOk: z.boolean(),
  /** What restic check reported (damaged packs, unreadable blobs), in its words. */
  checkErrors: z.array(z.string()),
  /** Pack files restic named as damaged. */
  damagedPacks: z.array(z.string()),
  samples: z.array(SampleRestoreSchema),
  ok: z.boolean(),
  /** What failed and what to do, when not ok. */
  problems: z.array(BackupProblemSchema),
  durationMs: z.number().nonnegative(),
});
export type VerificationEntry = z.infer<typeof VerificationEntrySchema>;

export const VerifyResultSchema = z.object({ entries: z.array(VerificationEntrySchema), ok: z.boolean() });
export type VerifyResult = z.infer<typeof VerifyResultSchema>;

export const CopyResultSchema = z.object({
  to: z.enum(['site', 'offsite']),
  repos: z.array(
    z.object({
      kind: RepoKindSchema,
      location: z.string(),
      /** Snapshots carried in this run. */
      copied: z.number().int().nonnegative(),
      /** Snapshots the target held (after the run) that came from this laptop. */
      held: z.number().int().nonnegative(),
    }),
  ),
  durationMs: z.number().nonnegative(),
});
export type CopyResult = z.infer<typeof CopyResultSchema>;

export const SnapshotRefSchema = z.object({ resticId: ResticIdSchema, time: z.number().int(), reasons: z.array(z.string()) });

/** What retention keeps and removes for one device × class. */
export const RetentionGroupSchema = z.object({
  deviceId: z.string(),
  class: BackupClassSchema,
  retention: RetentionSchema,
  keep: z.array(SnapshotRefSchema),
  remove: z.array(SnapshotRefSchema),
});
export type RetentionGroup = z.infer<typeof RetentionGroupSchema>;

export const RetentionPreviewSchema = z.object({ groups: z.array(RetentionGroupSchema) });
export type RetentionPreview = z.infer<typeof RetentionPreviewSchema>;

export const ForgetResultSchema = z.object({
  groups: z.array(RetentionGroupSchema),
  removed: z.number().int().nonnegative(),
});
export type ForgetResult = z.infer<typeof ForgetResultSchema>;
