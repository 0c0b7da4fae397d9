/**
 * One class as the backup stream of shared/backupStream.ts: every file of the class's plan
 * (backupClasses.ts) under its device path, SQLite databases as consistent snapshots
 * (sqliteSnapshot.ts; each copy sent while its integrity_check runs, and counted only once
 * it passed) under their ORIGINAL path, then the manifest LAST with the SHA-256 of
 * exactly the bytes sent, then the two zero blocks. Nothing here decides that a backup is
 * good: the laptop does, from a complete stream and the command's exit 0.
 *
 * Snapshot temp files live beside the database (the data partition) and are removed when
 * the member is sent, when the stream fails, and on a signal (removeTempSnapshotsNow); one
 * left by a SIGKILL is removed by the next backup-stream.
 */
import { rmSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { AgentConfig } from '../../shared/agentConfig.ts';
import { BACKUP_MANIFEST_NAME, BackupManifestSchema, type BackupClass, type BackupManifest, type BackupManifestFile } from '../../shared/backupStream.ts';
import { journalPath } from '../journal/openJournal.ts';
import { planClass, type PlannedSource } from './backupClasses.ts';
import { classChangeToken } from './changeToken.ts';
import { activeModelVersion, imageVersion } from './deviceFacts.ts';
import { checkIntegrity, copyDatabase, removeStaleTempSnapshots, tempSnapshotPath } from './sqliteSnapshot.ts';
import { createTarWriter, type TarMemberHeader, type TarSink, type TarWriter } from './tarWriter.ts';
import { walkFiles } from './walkFiles.ts';

export type ClassStreamOptions = {
  cls: BackupClass;
  config: AgentConfig;
  configPath: string;
  /** --path arguments: absolute paths added to the class for this run. */
  extraPaths: readonly string[];
  agentVersion: string;
  sink: TarSink;
  /** Told about files skipped on purpose (symlinks inside folders, sockets). */
  note?: (message: string) => void;
  now?: () => number;
};

const liveTemps = new Set<string>();

/** Removes the snapshot temp files of streams still running in this process (on a signal, before exiting). */
export function removeTempSnapshotsNow(): void {
  for (const path of liveTemps) rmSync(path, { force: true });
  liveTemps.clear();
}

function memberHeader(path: string, stat: Stats, mode = stat.mode): TarMemberHeader {
  return { name: path.slice(1), mode: mode & 0o7777, mtimeMs: stat.mtimeMs, uid: stat.uid, gid: stat.gid };
}

function manifestEntry(path: string, stat: Stats, written: { size: number; sha256: string }, kind: BackupManifestFile['kind']): BackupManifestFile {
  return { path, size: written.size, mode: stat.mode & 0o7777, mtimeMs: Math.trunc(stat.mtimeMs), sha256: written.sha256, kind };
}

type Progress = { files: BackupManifestFile[]; missing: string[]; sent: Set<string>; journalLastSeq: number | null };

async function sendDatabase(writer: TarWriter, path: string, isJournal: boolean, progress: Progress): Promise<void> {
  removeStaleTempSnapshots(dirname(path));
  const temp = tempSnapshotPath(path);
  liveTemps.add(temp);
  try {
    const facts = await copyDatabase(path, temp);
    // Checked while it is sent: the member counts (and the manifest can be written) only
    // once the copy passed, so a failed check still ends the stream without a manifest.
    const check = checkIntegrity(temp, path);
    try {
      const stat = statSync(path);
      const written = await writer.addFile(memberHeader(path, stat), temp, facts.bytes);
      await check.passed;
      progress.files.push(manifestEntry(path, stat, written, 'sqlite'));
      if (isJournal) progress.journalLastSeq = facts.journalLastSeq;
    } finally {
      check.stop();
    }
  } finally {
    rmSync(temp, { force: true });
    liveTemps.delete(temp);
  }
}

async function sendSource(writer: TarWriter, source: PlannedSource, options: ClassStreamOptions, progress: Progress): Promise<void> {
  const path = resolve(source.path);
  if (source.kind === 'sqlite') {
    if (progress.sent.has(path)) return;
    progress.sent.add(path);
    await sendDatabase(writer, path, path === journalPath(options.config.data_dir), progress);
    return;
  }
  if (source.kind === 'bytes') {
    if (progress.sent.has(path)) return;
    progress.sent.add(path);
    const stat = statSync(source.like);
    const written = await writer.addBytes(memberHeader(path, stat), source.bytes);
    progress.files.push(manifestEntry(path, stat, written, 'file'));
    return;
  }
  const events = { missing: (p: string) => progress.missing.push(p), note: options.note ?? ((): void => undefined) };
  for (const file of walkFiles(path, events)) {
    if (progress.sent.has(file.path)) continue;
    progress.sent.add(file.path);
    const written = await writer.addFile(memberHeader(file.path, file.stat), file.path, file.stat.size);
    progress.files.push(manifestEntry(file.path, file.stat, written, 'file'));
  }
}

/** Writes the whole stream of `options.cls` to the sink; resolves with the manifest once the end blocks are written. */
export async function writeClassStream(options: ClassStreamOptions): Promise<BackupManifest> {
  const { cls, config } = options;
  const takenAt = Math.trunc((options.now ?? Date.now)());
  for (const path of options.extraPaths) {
    if (!path.startsWith('/')) throw Object.assign(new Error(`--path ${path} is not an absolute path`), { hint: 'Give the full path on the device, such as /srv/app/data.' });
  }
  // Before anything is read: a file written while the stream runs makes the next probe differ.
  const changeToken = classChangeToken(cls, { config, configPath: options.configPath, extraPaths: options.extraPaths, agentVersion: options.agentVersion });
  const plan = planClass(cls, { config, configPath: resolve(options.configPath), extraPaths: options.extraPaths });
  const progress: Progress = { files: [], missing: [...plan.missing], sent: new Set(), journalLastSeq: null };
  const writer = createTarWriter(options.sink);
  for (const source of plan.sources) await sendSource(writer, source, options, progress);

  const manifest = BackupManifestSchema.parse({
    formatVersion: 1,
    deviceId: config.device_id,
    site: config.site === '' ? null : config.site,
    class: cls,
    takenAt,
    agentVersion: options.agentVersion,
    imageVersion: imageVersion(config.backup.etc_root),
    modelVersion: cls === 'state' ? activeModelVersion(config) : null,
    files: progress.files,
    missing: progress.missing,
    journalLastSeq: progress.journalLastSeq,
    changeToken,
  } satisfies BackupManifest);
  const bytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  await writer.addBytes({ name: BACKUP_MANIFEST_NAME, mode: 0o644, mtimeMs: takenAt, uid: 0, gid: 0 }, bytes);
  await writer.finish();
  return manifest;
}
