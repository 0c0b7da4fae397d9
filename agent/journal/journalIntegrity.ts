/**
 * The integrity check at open: a damaged file is refused before anything writes to it, and
 * is never repaired, recreated or overwritten (JournalCorruptError says what to do).
 */
import { existsSync, statSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { isCorruption, JournalCorruptError, JournalStorageError } from './journalErrors.ts';
import { errorText } from './journalRows.ts';

/**
 * Runs `PRAGMA quick_check` on an existing journal file. The check runs on a read-only
 * connection: a read-write one would replay and checkpoint the WAL on close, changing the
 * very file a recovery needs untouched.
 */
export function checkIntegrity(path: string, busyTimeoutMs: number): void {
  if (!existsSync(path) || statSync(path).size === 0) return;
  let db: DatabaseSync | null = null;
  try {
    // With a busy timeout like every other connection: another process may be creating or
    // writing the file right now (the daemon and an `rpc` on a first install), and without
    // one its lock fails this check at once with "database is locked".
    db = new DatabaseSync(path, { readOnly: true, timeout: busyTimeoutMs });
    const rows = db.prepare('PRAGMA quick_check').all() as { quick_check?: unknown }[];
    const problems = rows.map((r) => String(r.quick_check)).filter((r) => r !== 'ok');
    if (problems.length > 0) throw new JournalCorruptError(path, `SQLite quick_check: ${problems.slice(0, 5).join('; ')}`);
  } catch (error) {
    if (error instanceof JournalCorruptError) throw error;
    if (isCorruption(error)) throw new JournalCorruptError(path, `SQLite: ${errorText(error)}`, error);
    throw new JournalStorageError(`Cannot read the journal at ${path}: ${errorText(error)}`, error);
  } finally {
    db?.close();
  }
}
