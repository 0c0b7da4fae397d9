/**
 * The journal's failures, as FieldkitErrors (code, message, hint) so they cross the RPC
 * and HTTP boundaries as data. Each class exists so ingest can map it to its own HTTP
 * status: full → 507, storage → 503, corrupt → refuse to start.
 */
import { appError, FieldkitError } from '../../shared/errors.ts';

/** The disk budget is exhausted and only unconfirmed priority-1 data is left: nothing may be dropped. */
export class JournalFullError extends FieldkitError {
  constructor(message: string) {
    super(
      appError(
        'UNAVAILABLE',
        message,
        'Pull the journal with a courier (or let the uplink forward it) so confirmed records can be pruned, or raise retention.budget_bytes.',
      ),
    );
  }
}

/** The disk is full (ENOSPC / SQLITE_FULL) or an I/O error hit the journal; nothing was appended. */
export class JournalStorageError extends FieldkitError {
  constructor(message: string, cause: unknown) {
    super(
      appError(
        'IO_ERROR',
        message,
        'Free space on the data partition (or check the storage for errors); the agent accepts events again as soon as writes succeed.',
      ),
      { cause },
    );
  }
}

/** The journal file failed SQLite's integrity check: reported, never repaired or replaced by guessing. */
export class JournalCorruptError extends FieldkitError {
  readonly path: string;
  constructor(path: string, detail: string, cause?: unknown) {
    super(
      appError(
        'IO_ERROR',
        `The journal at ${path} is corrupt: ${detail}`,
        'The journal was NOT modified; copy it off the device for recovery, then move it aside to start a new journal.',
      ),
      { cause },
    );
    this.path = path;
  }
}

type SqliteError = Error & { errcode?: unknown; errstr?: unknown };

/** SQLite's primary result code of an error thrown by node:sqlite, or null for anything else. */
export function sqliteCode(error: unknown): number | null {
  if (!(error instanceof Error)) return null;
  const code = (error as SqliteError).errcode;
  // Extended codes carry the primary code in the low byte (SQLITE_IOERR_FSYNC = 10 | 4<<8).
  return typeof code === 'number' ? code & 0xff : null;
}

const SQLITE_IOERR = 10;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_NOTADB = 26;

/** True for errors that mean the storage, not the request, is at fault. */
export function isStorageFailure(error: unknown): boolean {
  const code = sqliteCode(error);
  if (code === SQLITE_IOERR || code === SQLITE_FULL || code === SQLITE_CANTOPEN) return true;
  const errno = (error as { code?: unknown } | null)?.code;
  return errno === 'ENOSPC' || errno === 'EIO' || errno === 'EROFS';
}

/** True for errors that mean the database file itself is damaged. */
export function isCorruption(error: unknown): boolean {
  const code = sqliteCode(error);
  return code === SQLITE_CORRUPT || code === SQLITE_NOTADB;
}
