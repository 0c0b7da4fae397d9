/**
 * A consistent copy of a live SQLite database while its writers keep going (the daemon
 * ingesting): SQLite's online backup API on a connection of its own, read-only, in ONE
 * step. One step holds a single read transaction for the whole copy, so the copy is the
 * database as of one commit; in WAL mode that reader does not block the writer. (Stepwise
 * backups restart whenever another connection writes, which under continuous ingest means
 * never finishing.) The live file and its -wal are never copied.
 *
 * The copy is then switched out of WAL mode (one self-contained file, nothing in a -wal
 * beside it) and checked with `PRAGMA integrity_check` — on a thread of its own, so a backup
 * stream sends the copy while it is checked and writes its manifest only once it passed
 * (classStream.ts) — and, as a scheduled snapshot, fsynced. A copy that fails any of that is
 * removed, never left looking like a snapshot.
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { backup, DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';

/** All pages in one backup step (node:sqlite takes a positive 32-bit count). */
const allPages = 0x7fffffff;
const busyTimeoutMs = 5000;
const tempPrefix = '.fieldkit-backup-';

export type SnapshotFacts = { bytes: number; journalLastSeq: number | null };

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function copyFailed(source: string, target: string, error: unknown): Error {
  rmSync(target, { force: true });
  rmSync(`${target}-journal`, { force: true });
  if ((error as { hint?: unknown }).hint !== undefined) return error as Error;
  return Object.assign(new Error(`Cannot snapshot ${source} into ${target}: ${message(error)}`), {
    hint: /full|space/i.test(message(error)) ? `Free space where ${target} is written, then try again.` : 'Check that the database and the folder of the snapshot are readable and writable, then try again.',
  });
}

/**
 * The consistent copy of `source` at `target`, switched out of WAL mode, NOT yet checked:
 * the caller must not treat it as a snapshot before `checkIntegrity` resolved for it.
 */
export async function copyDatabase(source: string, target: string): Promise<SnapshotFacts> {
  try {
    const live = new DatabaseSync(source, { readOnly: true, timeout: busyTimeoutMs });
    try {
      await backup(live, target, { rate: allPages });
    } finally {
      live.close();
    }
    const copy = new DatabaseSync(target, { timeout: busyTimeoutMs });
    try {
      copy.exec('PRAGMA journal_mode = DELETE');
      return { bytes: statSync(target).size, journalLastSeq: readJournalLastSeq(copy) };
    } finally {
      copy.close();
    }
  } catch (error) {
    throw copyFailed(source, target, error);
  }
}

function integrityFailed(source: string, problems: readonly string[]): Error {
  return Object.assign(new Error(`the copy of ${source} fails integrity_check: ${problems.slice(0, 3).join('; ')}`), {
    hint: `The database itself may be damaged: run \`fieldkit-agent status\` on the device and check ${source}.`,
  });
}

// Plain CommonJS for an eval'd worker thread: the agent is one bundle on a Pi, so the thread
// carries its own few lines instead of a second entry file.
const integrityThreadCode = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.path, { readOnly: true, timeout: ${String(busyTimeoutMs)} });
try {
  parentPort.postMessage(db.prepare('PRAGMA integrity_check').all().map((r) => String(r.integrity_check)));
} finally {
  db.close();
}
`;

export type IntegrityCheck = {
  /** Resolves when the copy passed `PRAGMA integrity_check`; rejects (with a hint) when it did not. */
  passed: Promise<void>;
  /** Stops the check (the stream failed first); `passed` then rejects. */
  stop(): void;
};

/**
 * `PRAGMA integrity_check` of a copy (read-only) on a thread of its own, so the copy can be
 * read and sent while it runs; the stream's manifest waits for `passed`, so a copy that fails
 * never ends a stream the laptop would keep.
 */
export function checkIntegrity(copyPath: string, source: string): IntegrityCheck {
  const worker = new Worker(integrityThreadCode, { eval: true, workerData: { path: copyPath } });
  let answered = false;
  const passed = new Promise<void>((resolve, reject) => {
    worker.once('message', (rows: unknown) => {
      answered = true;
      const problems = (Array.isArray(rows) ? rows.map(String) : ['no answer']).filter((r) => r !== 'ok');
      if (problems.length === 0) resolve();
      else reject(integrityFailed(source, problems));
    });
    worker.once('error', (error) => {
      answered = true;
      reject(Object.assign(new Error(`Cannot check the copy of ${source}: ${message(error)}`), { hint: 'Check that the data partition is readable, then try again.' }));
    });
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`the integrity_check of the copy of ${source} was stopped (exit ${String(code)})`));
    });
  });
  // A stream that fails before the check ends must not leave an unhandled rejection.
  passed.catch(() => undefined);
  return { passed, stop: () => void worker.terminate() };
}

/**
 * Copies `source` to `target` consistently; the target is complete and checked when this
 * resolves, and synced unless `durable: false`.
 */
export async function snapshotDatabase(source: string, target: string, options: { durable: boolean } = { durable: true }): Promise<SnapshotFacts> {
  const facts = await copyDatabase(source, target);
  const check = checkIntegrity(target, source);
  try {
    await check.passed;
    if (options.durable) fsyncFile(target);
    return facts;
  } catch (error) {
    check.stop();
    throw copyFailed(source, target, error);
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
