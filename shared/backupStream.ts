/**
 * What a device sends when the laptop backs it up: one class of files as a tar stream,
 * written by `fieldkit-agent backup-stream --class C` on the device's stdout, and read by the
 * laptop straight into restic (no plaintext copy on the laptop's disk).
 *
 * The stream is POSIX tar (ustar, pax headers for long names): every file of the class
 * under its absolute path without the leading "/", then, LAST, the member
 * `BACKUP_MANIFEST_NAME` (JSON, `BackupManifestSchema`), then the two zero blocks. The
 * manifest is last because its hashes are taken while the files stream (one read, and
 * the hash is of exactly the bytes sent). A stream without the manifest, or whose bytes do
 * not match it, or that does not end with both zero blocks, is not a backup: the laptop
 * aborts restic before it writes a snapshot.
 */
import { z } from 'zod';

export const BackupClassSchema = z.enum(['config', 'state', 'data', 'secrets']);
export type BackupClass = z.infer<typeof BackupClassSchema>;

/** The words the UI and CLI use for each class. */
export const backupClassLabels: Record<BackupClass, string> = {
  config: 'system configuration',
  state: 'application state',
  data: 'user data',
  secrets: 'secrets and keys',
};

/** The tar member that closes every backup stream. */
export const BACKUP_MANIFEST_NAME = 'fieldkit-backup-manifest.json';

const Sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 as 64 lowercase hex digits');

export const BackupManifestFileSchema = z.object({
  /** Absolute path on the device, as it is restored. */
  path: z.string().startsWith('/'),
  size: z.number().int().nonnegative(),
  /** Permission bits (e.g. 0o600 for a key). */
  mode: z.number().int().nonnegative(),
  mtimeMs: z.number().int(),
  sha256: Sha256HexSchema,
  /**
   * 'sqlite' for a database snapshotted with SQLite's online backup while its writers ran
   * (never a copy of the live file and its WAL): a restore opens it and checks integrity.
   */
  kind: z.enum(['file', 'sqlite']).default('file'),
});
export type BackupManifestFile = z.infer<typeof BackupManifestFileSchema>;

export const BackupManifestSchema = z.object({
  formatVersion: z.literal(1),
  deviceId: z.string().min(1),
  site: z.string().nullable(),
  class: BackupClassSchema,
  /** Device clock, ms, when the stream started. */
  takenAt: z.number().int(),
  agentVersion: z.string(),
  /** The OS image version the device runs, when it knows (from the image's os-release). */
  imageVersion: z.string().nullable(),
  /** The active model's version, for the state class. */
  modelVersion: z.string().nullable().default(null),
  files: z.array(BackupManifestFileSchema),
  /** Paths asked for that were not there (a declared data folder not yet created): named, never silent. */
  missing: z.array(z.string()).default([]),
  /** For a journal: the highest seq in the snapshot, so a restore knows what it holds. */
  journalLastSeq: z.number().int().nonnegative().nullable().default(null),
  /**
   * The class's change token taken when the stream STARTED (SHA-256 over path, size, mtime,
   * ctime and inode of every file, as restic judges change; the agent's changeToken.ts).
   * A later `backup-probe` with the same token means nothing changed since this stream.
   * Older agents omit it: their classes are always streamed.
   */
  changeToken: Sha256HexSchema.optional(),
});
export type BackupManifest = z.infer<typeof BackupManifestSchema>;

/** The device-side snapshots the agent keeps of its state (reported in each health sample). */
export const DeviceSnapshotStatusSchema = z.object({
  /** Where the agent keeps them (the data partition, or an attached USB drive). */
  folder: z.string(),
  /** The newest snapshot that was written completely and passed integrity_check; null when none yet. */
  newestGoodAt: z.number().int().nullable(),
  newestGoodBytes: z.number().int().nonnegative().nullable(),
  count: z.number().int().nonnegative(),
  intervalSeconds: z.number().int().positive(),
  /** The last attempt's error, when it failed (disk full, folder missing); null when it worked. */
  lastError: z.string().nullable(),
});
export type DeviceSnapshotStatus = z.infer<typeof DeviceSnapshotStatusSchema>;
