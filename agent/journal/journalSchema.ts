/**
 * Bringing a journal file to this agent's schema, and making a new journal's identity, in
 * one transaction. The steps themselves (append-only, additive) are `journalMigrations.ts`;
 * this file applies them and enforces the compatibility floor
 * (`journal_compat.readable_by`) when the file is newer than this agent.
 */
import { randomBytes } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { journalMigrations, journalReadableBy } from './journalMigrations.ts';
import { int, type Row } from './journalRows.ts';

/** journal_compat.readable_by, or null when the file has no such table (or row). */
function compatFloor(db: DatabaseSync): number | null {
  const table = db.prepare("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'journal_compat'").get();
  if (table === undefined) return null;
  const row = db.prepare('SELECT readable_by FROM journal_compat WHERE id = 1').get() as Row | undefined;
  return row === undefined ? null : int(row, 'readable_by');
}

/** Refuses a file written by a newer agent unless every migration it ran was additive. */
function checkNewerSchema(db: DatabaseSync, path: string, version: number): void {
  if (version <= journalMigrations.length) return;
  // Written by a newer agent (this one was rolled back to): fine when every migration
  // it ran was additive, as journal_compat says; nothing is migrated either way.
  const readableBy = compatFloor(db);
  if (readableBy === null || readableBy > journalMigrations.length) {
    throw new FieldkitError(
      appError(
        'CONFLICT',
        `The journal at ${path} was written by a newer agent (schema ${version}, this one knows ${journalMigrations.length}${readableBy === null ? '' : `; it needs an agent that knows ${readableBy}`}).`,
        'Install the newer agent again (or roll forward); do not run an older agent on this journal.',
      ),
    );
  }
}

/**
 * Brings the schema up to date and, on a new database, makes its identity (device_id and
 * a random 128-bit journal_id), in one transaction.
 */
export function migrateJournal(db: DatabaseSync, path: string, deviceId: string, createdMs: number): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    // Read inside the write lock: two processes opening a new journal at once must not
    // both create it.
    const version = int(db.prepare('PRAGMA user_version').get() as Row, 'user_version');
    checkNewerSchema(db, path, version);
    for (let v = version; v < journalMigrations.length; v++) {
      db.exec(journalMigrations[v] ?? '');
      db.exec(`PRAGMA user_version = ${v + 1}`);
    }
    if (version < journalMigrations.length) db.prepare('INSERT OR REPLACE INTO journal_compat (id, readable_by) VALUES (1, ?)').run(journalReadableBy);
    if (version === 0) {
      db.prepare('INSERT INTO meta (id, device_id, journal_id, created_ms) VALUES (1, ?, ?, ?)').run(deviceId, randomBytes(16).toString('hex'), createdMs);
    }
    db.exec('COMMIT');
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}
