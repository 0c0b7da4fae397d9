/**
 * The laptop store: one SQLite database (better-sqlite3, WAL) in the data folder. It must
 * survive kill -9 of the app at any moment, so every write is a transaction and the
 * schema moves forward only through numbered migrations.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import { migrations } from './migrations.ts';

export type Store = Database.Database;

export const storeFileName = 'fieldkit.db';

/** Opens (creating if needed) the store in `dataDir` and brings its schema up to date. */
export function openStore(dataDir: string): Store {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, storeFileName);
  let db: Store;
  try {
    db = new Database(path, { timeout: 5000 });
    db.pragma('journal_mode = WAL');
    // FULL: a job that finished (or data a courier acknowledged) must still be there
    // after power loss, not only after a crash of the app.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
  } catch (cause) {
    throw new FieldkitError(
      appError(
        'IO_ERROR',
        `Cannot open the fieldkit store at ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
        'Check that the data folder is writable and not full, and that no other program holds it locked.',
      ),
      { cause },
    );
  }
  migrate(db);
  return db;
}

/**
 * Applies the migrations this store has not seen, each in its own IMMEDIATE transaction
 * that re-reads the version: the app, a CLI and a job worker may open the store at once.
 */
export function migrate(db: Store): void {
  for (;;) {
    const applied = db.transaction(() => {
      const current = db.pragma('user_version', { simple: true }) as number;
      if (current > migrations.length) {
        throw new FieldkitError(
          appError(
            'CONFLICT',
            `The store was written by a newer fieldkit (schema ${current}, this one knows ${migrations.length}).`,
            'Update fieldkit on this laptop, or point FIELDKIT_DATA_DIR at another folder.',
          ),
        );
      }
      if (current === migrations.length) return false;
      db.exec(migrations[current] ?? '');
      db.pragma(`user_version = ${current + 1}`);
      return true;
    }).immediate();
    if (!applied) return;
  }
}
