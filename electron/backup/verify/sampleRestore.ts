/**
 * The restore test of one snapshot: `restic dump` of its tar into memory (never to disk: the
 * secrets class comes through here too), every member hashed and compared with the device's
 * manifest inside the same tar, every SQLite database opened in memory and
 * `PRAGMA integrity_check`ed. restic dump reads every byte of the snapshot anyway, so every
 * file is compared, not only a sample.
 */
import Database from 'better-sqlite3';
import { BACKUP_MANIFEST_NAME, BackupManifestSchema, type BackupClass, type BackupManifest } from '../../../shared/backupStream.ts';
import type { SampleRestore } from '../../../shared/backup.ts';
import { runRestic, type ResticRepo } from '../restic/resticProcess.ts';
import { createTarDigester, type TarDigest } from './tarDigest.ts';

type SampleFailure = SampleRestore['failures'][number];

/** Tar member names are the device's absolute paths without the leading "/". */
function memberName(path: string): string {
  return path.replace(/^\/+/, '');
}

function integrityOf(bytes: Buffer): string {
  let db: Database.Database | null = null;
  try {
    db = new Database(bytes);
    const rows = db.pragma('integrity_check') as unknown[];
    const words = rows.map((row) => (typeof row === 'object' && row !== null ? Object.values(row).join(' ') : String(row)));
    return words.join('; ');
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    db?.close();
  }
}

function compare(manifest: BackupManifest, digest: TarDigest): { failures: SampleFailure[]; filesChecked: number; sqliteChecked: number } {
  const failures: SampleFailure[] = [];
  let sqliteChecked = 0;
  for (const file of manifest.files) {
    const member = digest.members.get(memberName(file.path));
    if (member === undefined) {
      failures.push({ path: file.path, reason: 'missing', detail: 'in the manifest but not in the snapshot' });
      continue;
    }
    if (member.sha256 !== file.sha256 || member.size !== file.size) {
      failures.push({ path: file.path, reason: 'hash', detail: `restored ${member.size} bytes with SHA-256 ${member.sha256.slice(0, 16)}…; the device sent ${file.size} bytes with ${file.sha256.slice(0, 16)}…` });
      continue;
    }
    if (file.kind === 'sqlite') {
      sqliteChecked++;
      const bytes = digest.kept.get(memberName(file.path));
      const verdict = bytes === undefined ? 'not an SQLite database' : integrityOf(bytes);
      if (verdict !== 'ok') failures.push({ path: file.path, reason: 'sqlite', detail: `integrity_check: ${verdict.slice(0, 500)}` });
    }
  }
  return { failures, filesChecked: manifest.files.length, sqliteChecked };
}

export async function restoreTest(repo: ResticRepo, snapshot: { id: string; deviceId: string; class: BackupClass }, signal?: AbortSignal): Promise<SampleRestore> {
  const base = { deviceId: snapshot.deviceId, class: snapshot.class, resticId: snapshot.id };
  const digester = createTarDigester((path) => path === BACKUP_MANIFEST_NAME);
  try {
    await runRestic({
      repo,
      args: ['dump', '--no-lock', snapshot.id, `/${snapshot.class}.tar`],
      what: `restore ${snapshot.class}.tar of ${snapshot.deviceId}`,
      signal,
      onStdout: (chunk) => { digester.push(chunk); },
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ...base, filesChecked: 0, sqliteChecked: 0, failures: [], error: `The snapshot could not be restored: ${message}`, ok: false };
  }
  const digest = digester.finish();
  const manifestBytes = digest.kept.get(BACKUP_MANIFEST_NAME);
  const parsed = manifestBytes === undefined ? null : BackupManifestSchema.safeParse(safeJson(manifestBytes.toString('utf8')));
  if (parsed === null || !parsed.success || !digest.ended) {
    const why = parsed === null ? 'it holds no manifest' : !parsed.success ? 'its manifest is not readable' : 'its tar is cut short';
    return { ...base, filesChecked: 0, sqliteChecked: 0, failures: [], error: `The restored snapshot is not a whole backup: ${why}.`, ok: false };
  }
  const result = compare(parsed.data, digest);
  return { ...base, ...result, error: null, ok: result.failures.length === 0 };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
