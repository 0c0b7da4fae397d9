/**
 * The folder of the daemon's scheduled state snapshots, and what it holds:
 *
 *   <folder>/state-<UTC time>/journal.db, health.db, snapshot.json   complete, checked
 *   <folder>/.partial-<UTC time>/                                     being written (or left by a crash)
 *
 * A snapshot is a folder renamed into place only after every database in it was copied with
 * SQLite's online backup, passed integrity_check and was fsynced, and snapshot.json was
 * written and fsynced last; so anything named `state-*` with a snapshot.json is good, and a
 * half-written one never looks good. `.partial-*` folders are removed before each attempt.
 *
 * The daemon also keeps `<data_dir>/backup-snapshots.json` (its last attempt and error), so
 * other agent processes (the laptop's `rpc`) report the same status in their health samples.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { AgentConfig } from '../../shared/agentConfig.ts';
import type { DeviceSnapshotStatus } from '../../shared/backupStream.ts';

export const SNAPSHOT_INFO_FILE = 'snapshot.json';
export const SNAPSHOT_STATE_FILE = 'backup-snapshots.json';

export const SnapshotInfoSchema = z.object({
  formatVersion: z.literal(1),
  deviceId: z.string(),
  takenAt: z.number().int(),
  journalLastSeq: z.number().int().nullable(),
  /** Each database: its file name here and the path it was copied from. */
  files: z.array(z.object({ name: z.string(), source: z.string(), bytes: z.number().int().nonnegative() })),
});
export type SnapshotInfo = z.infer<typeof SnapshotInfoSchema>;

const LastAttemptSchema = z.object({ at: z.number().int(), error: z.string().nullable() });
export type LastAttempt = z.infer<typeof LastAttemptSchema>;

export function snapshotFolder(config: AgentConfig): string {
  return config.backup.snapshot_folder ?? join(config.data_dir, 'snapshots');
}

/** `state-2026-01-07T18-12-09-019Z`: sorts by time as text. */
export function snapshotName(takenAt: number): string {
  return `state-${new Date(takenAt).toISOString().replace(/[:.]/g, '-')}`;
}

export type GoodSnapshot = { dir: string; info: SnapshotInfo; bytes: number };

function readInfo(dir: string): SnapshotInfo | null {
  try {
    return SnapshotInfoSchema.parse(JSON.parse(readFileSync(join(dir, SNAPSHOT_INFO_FILE), 'utf8')));
  } catch {
    return null;
  }
}

function folderBytes(dir: string): number {
  let bytes = 0;
  for (const name of readdirSync(dir)) bytes += statSync(join(dir, name)).size;
  return bytes;
}

/** The good snapshots in `folder`, oldest first. A folder that is not there holds none. */
export function listGoodSnapshots(folder: string): GoodSnapshot[] {
  if (!existsSync(folder)) return [];
  const good: GoodSnapshot[] = [];
  for (const name of readdirSync(folder).filter((n) => n.startsWith('state-')).sort()) {
    const dir = join(folder, name);
    const info = readInfo(dir);
    if (info === null) continue;
    try {
      good.push({ dir, info, bytes: folderBytes(dir) });
    } catch {
      // Removed while we looked (a prune in the daemon): not there.
    }
  }
  return good;
}

/** Removes what a crash left half-written. */
export function removePartials(folder: string): void {
  if (!existsSync(folder)) return;
  for (const name of readdirSync(folder)) if (name.startsWith('.partial-')) rmSync(join(folder, name), { recursive: true, force: true });
}

/** Keeps the newest `keep` good snapshots; returns the folders removed. */
export function pruneSnapshots(folder: string, keep: number): string[] {
  const good = listGoodSnapshots(folder);
  const drop = good.slice(0, Math.max(0, good.length - keep)).map((s) => s.dir);
  for (const dir of drop) rmSync(dir, { recursive: true, force: true });
  return drop;
}

export function readLastAttempt(dataDir: string): LastAttempt | null {
  try {
    return LastAttemptSchema.parse(JSON.parse(readFileSync(join(dataDir, SNAPSHOT_STATE_FILE), 'utf8')));
  } catch {
    return null;
  }
}

/** The status a health sample reports: the folder as it is now, and the last attempt's error. */
export function snapshotStatus(config: AgentConfig, lastError: string | null): DeviceSnapshotStatus {
  const folder = snapshotFolder(config);
  let good: GoodSnapshot[] = [];
  try {
    good = listGoodSnapshots(folder);
  } catch (error) {
    lastError ??= `cannot read the snapshot folder ${folder}: ${error instanceof Error ? error.message : String(error)}`;
  }
  const newest = good.at(-1);
  return {
    folder,
    newestGoodAt: newest?.info.takenAt ?? null,
    newestGoodBytes: newest?.bytes ?? null,
    count: good.length,
    intervalSeconds: config.backup.snapshot_interval_seconds,
    lastError,
  };
}
