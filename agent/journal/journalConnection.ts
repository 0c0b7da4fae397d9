/**
 * The journal's read-write connection: how it is opened (busy timeout, WAL, synchronous
 * FULL) and how every write runs (one BEGIN IMMEDIATE transaction, SQLite's failures
 * turned into the journal's errors).
 *
 * Several processes may hold the journal at once, so a write reads whatever it needs
 * (the counters in `meta`) inside its transaction, under SQLite's write lock.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { FieldkitError } from '../../shared/errors.ts';
import { isCorruption, isStorageFailure, JournalCorruptError, JournalStorageError } from './journalErrors.ts';
import { errorText } from './journalRows.ts';

/** How long a connection waits for another process that holds the journal's lock (ms). */
export const defaultBusyTimeoutMs = 5000;

/** Runs `fn` in one write transaction; `what` names the work in an error message. */
export type Write = <T>(what: string, fn: () => T) => T;

/**
 * Opens the journal file read-write (creating it and its folder), sets its durability, and
 * runs `prepare` (the migrations). Any failure closes the connection and throws the
 * journal's error for it.
 */
export function openConnection(path: string, busyTimeoutMs: number, prepare: (db: DatabaseSync) => void): DatabaseSync {
  mkdirSync(dirname(path), { recursive: true });
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { timeout: busyTimeoutMs });
  } catch (error) {
    throw new JournalStorageError(`Cannot open the journal at ${path}: ${errorText(error)}`, error);
  }
  try {
    // Switching a new file to WAL takes an exclusive lock, and SQLite can answer BUSY there
    // without calling the busy handler: six processes creating one journal at once saw
    // "database is locked". Retried within the same busy timeout, as is the migration.
    retryWhileBusy(() => { db.exec('PRAGMA journal_mode = WAL'); }, busyTimeoutMs);
    // FULL, not NORMAL: in WAL mode NORMAL syncs only at checkpoints, so a commit survives
    // kill -9 but may vanish on power loss. A Pi loses power without warning, and we
    // acknowledge a producer only after commit, so every commit must fsync the WAL.
    db.exec('PRAGMA synchronous = FULL');
    // Keep the WAL from lingering at its high-water mark on a small SD card.
    db.exec('PRAGMA journal_size_limit = 67108864');
    retryWhileBusy(() => { prepare(db); }, busyTimeoutMs);
  } catch (error) {
    db.close();
    if (error instanceof FieldkitError) throw error;
    if (isCorruption(error)) throw new JournalCorruptError(path, `SQLite: ${errorText(error)}`, error);
    throw new JournalStorageError(`Cannot prepare the journal at ${path}: ${errorText(error)}`, error);
  }
  return db;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Runs `step` again while SQLite says the database is busy or locked, for up to `timeoutMs`. */
function retryWhileBusy(step: () => void, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      step();
      return;
    } catch (error) {
      const code = (error as { errcode?: number }).errcode;
      // 5 SQLITE_BUSY, 6 SQLITE_LOCKED (the low byte: extended codes carry it too).
      if (code === undefined || ![5, 6].includes(code & 0xff) || Date.now() >= deadline) throw error;
      Atomics.wait(sleeper, 0, 0, pause); // opening is synchronous; a short blocking pause is fine here
    }
  }
}

/** The write-transaction runner of an open connection (see `Write`). */
export function writeTransactions(db: DatabaseSync, path: string): Write {
  return <T>(what: string, fn: () => T): T => {
    try {
      db.exec('BEGIN IMMEDIATE');
      const result = fn();
      db.exec('COMMIT');
      return result;
    } catch (error) {
      // SQLITE_FULL may already have rolled back; a failed COMMIT may not have.
      if (db.isTransaction) {
        try {
          db.exec('ROLLBACK');
        } catch {
          // The connection is unusable; the original error says why.
        }
      }
      if (error instanceof FieldkitError) throw error;
      if (isCorruption(error)) throw new JournalCorruptError(path, `SQLite while trying to ${what}: ${errorText(error)}`, error);
      if (isStorageFailure(error)) throw new JournalStorageError(`Cannot ${what} in the journal at ${path}: ${errorText(error)}`, error);
      throw error;
    }
  };
}
