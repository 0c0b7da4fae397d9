/**
 * A consistent copy of a live SQLite database while its writers keep going (the daemon
 * ingesting): SQLite's online backup API on a connection of its own, read-only, in ONE
 * step. One step holds a single read transaction for the whole copy, so the copy is the
 * database as of one commit; in WAL mode that reader does not block the writer. (Stepwise
 * backups restart whenever another connection writes, which under continuous ingest means
 * never finishing.) The live file and its -wal are never copied.
 *
 * The copy is then switched out of WAL mode (one self-contained file, nothing in a -wal
 * beside it), checked with `PRAGMA integrity_check`, and fsynced. A copy that fails any of
 * that is removed, never left looking like a snapshot.
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { backup, DatabaseSync } from 'node:sqlite';

/** All pages in one backup step (node:sqlite takes a positive 32-bit count). */
const allPages = 0x7fffffff;
const busyTimeoutMs = 5000;
const tempPrefix = '.fieldkit-backup-';

export type SnapshotFacts = { bytes: number; journalLastSeq: number | null };

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Copies `source` to `target` consistently; the target is complete and checked when this
 * resolves, and synced unless `durable: false` (a stream's temp copy, read back at once
 * from the page cache and removed: forcing it to the SD card only costs time).
 */
export async function snapshotDatabase(source: string, target: string, options: { durable: boolean } = { durable: true }): Promise<SnapshotFacts> {
  try {
    const live = new DatabaseSync(source, { readOnly: true, timeout: busyTimeoutMs });
    try {
      await backup(live, target, { rate: allPages });
    } finally {
      live.close();
    }
    const copy = new DatabaseSync(target, { timeout: busyTimeoutMs });
    let journalLastSeq: number | null = null;
    try {
      copy.exec('PRAGMA journal_mode = DELETE');
      const rows = copy.prepare('PRAGMA integrity_check').all() as { integrity_check?: unknown }[];
      const problems = rows.map((r) => String(r.integrity_check)).filter((r) => r !== 'ok');
      if (problems.length > 0) {
        throw Object.assign(new Error(`the copy of ${source} fails integrity_check: ${problems.slice(0, 3).join('; ')}`), {
          hint: `The database itself may be damaged: run \`fieldkit-agent status\` on the device and check ${source}.`,
        });
      }
      journalLastSeq = readJournalLastSeq(copy);
    } finally {
      copy.close();
    }
    if (options.durable) fsyncFile(target);
    return { bytes: statSync(target).size, journalLastSeq };
  } catch (error) {
    rmSync(target, { force: true });
    rmSync(`${target}-journal`, { force: true });
    if ((error as { hint?: unknown }).hint !== undefined) throw error;
    throw Object.assign(new Error(`Cannot snapshot ${source} into ${target}: ${message(error)}`), {
      hint: /full|space/i.test(message(error)) ? `Free space where ${target} is written, then try again.` : 'Check that the database and the folder of the snapshot are readable and writable, then try again.',
    });
  }
}

/** meta.last_seq when the database is a journal (the highest seq it ever assigned); null for other databases. */
function readJournalLastSeq(db: DatabaseSync): number | null {
  const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
  if (table === undefined) return null;
  const columns = db.prepare('PRAGMA table_info(meta)').all() as { name?: unknown }[];
  if (!columns.some((c) => c.name === 'last_seq')) return null;
  const row = db.prepare('SELECT last_seq FROM meta WHERE id = 1').get() as { last_seq?: unknown } | undefined;
  return typeof row?.last_seq === 'number' ? row.last_seq : null;
}

export function fsyncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A temp name beside `source` (the same partition as the data), for one snapshot by this process. */
export function tempSnapshotPath(source: string): string {
  return join(dirname(source), `${tempPrefix}${String(process.pid)}-${randomBytes(4).toString('hex')}-${basename(source)}`);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === 'EPERM';
  }
}

/** Removes temp snapshots left in `dir` by a backup-stream that was killed (its pid is gone). */
export function removeStaleTempSnapshots(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const match = /^\.fieldkit-backup-(\d+)-/.exec(name);
    if (match === null || pidAlive(Number(match[1]))) continue;
    rmSync(join(dir, name), { force: true });
  }
}
