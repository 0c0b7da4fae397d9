/**
 * The `meta` row: the journal's identity (device_id, journal_id, created_ms) and its
 * counters (last_seq, stored_records, stored_bytes, forwarded_seq).
 *
 * Nothing here is cached: another process may have changed the row, so a write reads it
 * inside its own transaction. `last_seq` is the highest seq ever assigned (not max(seq)),
 * so a dropped tail is never reused.
 */
import type { DatabaseSync } from 'node:sqlite';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { JournalCorruptError } from './journalErrors.ts';
import { int, text, type Row } from './journalRows.ts';

export type Meta = {
  device_id: string;
  journal_id: string;
  created_ms: number;
  last_seq: number;
  stored_records: number;
  stored_bytes: number;
  forwarded_seq: number;
};

/** The key every record and loss record of this journal carries besides its seq. */
export type JournalKeys = { deviceId: string; journalId: string };

export type MetaStore = {
  read(): Meta;
  /** Sets the counters; only inside the write transaction that changed the records. */
  setCounters(lastSeq: number, storedRecords: number, storedBytes: number): void;
};

export function createMetaStore(db: DatabaseSync, path: string): MetaStore {
  const selectMeta = db.prepare('SELECT device_id, journal_id, created_ms, last_seq, stored_records, stored_bytes, forwarded_seq FROM meta WHERE id = 1');
  const updateCounters = db.prepare('UPDATE meta SET last_seq = ?, stored_records = ?, stored_bytes = ? WHERE id = 1');
  return {
    read(): Meta {
      const row = selectMeta.get() as Row | undefined;
      if (row === undefined) throw new JournalCorruptError(path, 'the meta row (device and journal identity) is missing');
      return {
        device_id: text(row, 'device_id'),
        journal_id: text(row, 'journal_id'),
        created_ms: int(row, 'created_ms'),
        last_seq: int(row, 'last_seq'),
        stored_records: int(row, 'stored_records'),
        stored_bytes: int(row, 'stored_bytes'),
        forwarded_seq: int(row, 'forwarded_seq'),
      };
    },
    setCounters(lastSeq, storedRecords, storedBytes) {
      updateCounters.run(lastSeq, storedRecords, storedBytes);
    },
  };
}

/** The error for a journal made by another device than the config names. */
export function wrongDeviceError(path: string, journalDevice: string, configDevice: string): FieldkitError {
  return new FieldkitError(
    appError(
      'CONFLICT',
      `The journal at ${path} belongs to device '${journalDevice}', but the config says '${configDevice}'.`,
      'Fix device_id in the config, or (if this Pi really is a new device) move the journal aside so a new one is made.',
      'device_id',
    ),
  );
}
