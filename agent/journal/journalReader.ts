/**
 * Reads for the courier, the uplink and status: records in seq order after a watermark,
 * loss records, and the journal's summary. Reads take no write lock; under WAL they see
 * the last committed state and never block the writer.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { JournalInfo, JournalRecord, LossRecord } from '../../shared/journal.ts';
import type { ReadOptions } from './journalApi.ts';
import type { LossLog } from './journalLosses.ts';
import type { JournalKeys, MetaStore } from './journalMeta.ts';
import { asPriority, int, type Row } from './journalRows.ts';
import type { Watermarks } from './journalWatermarks.ts';

export type ReaderDeps = {
  db: DatabaseSync;
  keys: JournalKeys;
  meta: MetaStore;
  watermarks: Watermarks;
  lossLog: LossLog;
  budgetBytes: number;
};

export type Reader = {
  read: (options: ReadOptions) => JournalRecord[];
  info: () => JournalInfo;
  losses: (afterSeq: number) => LossRecord[];
};

/** Rows fetched per SQLite call while filling a batch. */
const readChunkRows = 2048;

function intValue(value: unknown, column: string): number {
  if (typeof value !== 'number') throw new Error(`journal records.${column} is not a number`);
  return value;
}

function textValue(value: unknown, column: string): string {
  if (typeof value !== 'string') throw new Error(`journal records.${column} is not text`);
  return value;
}

export function createReader(deps: ReaderDeps): Reader {
  const { db, keys, meta, watermarks, lossLog } = deps;
  const firstSeq = db.prepare('SELECT coalesce(min(seq), 0) AS seq FROM records');
  // One statement per priority filter, prepared on first use (the filter is in the SQL).
  const readStatements = new Map<string, StatementSync>();

  function readStatement(options: ReadOptions): StatementSync {
    const priorities = options.priorities === undefined ? [] : [...new Set(options.priorities)].sort();
    const key = priorities.join(',');
    let statement = readStatements.get(key);
    if (statement === undefined) {
      const filter = priorities.length === 0 ? '' : ` AND priority IN (${priorities.join(', ')})`;
      statement = db.prepare(
        `SELECT seq, ts_ms, recv_ms, priority, kind, model_version, payload FROM records WHERE seq > ?${filter} ORDER BY seq LIMIT ?`,
      );
      // Rows as arrays, fetched a chunk at a time with all(): about twice the rows per
      // second of iterate() with row objects, and reading is most of a pull's agent time.
      statement.setReturnArrays(true);
      readStatements.set(key, statement);
    }
    return statement;
  }

  function read(options: ReadOptions): JournalRecord[] {
    const records: JournalRecord[] = [];
    const statement = readStatement(options);
    let bytes = 0;
    let after = options.after_seq;
    while (records.length < options.limit && bytes < options.max_bytes) {
      // Chunks bound what is read past max_bytes to one chunk's rows.
      const want = Math.min(readChunkRows, options.limit - records.length);
      const rows: unknown[] = statement.all(after, want);
      for (const row of rows) {
        const record = toRecord(row);
        records.push(record);
        after = record.seq;
        bytes += record.payload.length;
        if (bytes >= options.max_bytes) break;
      }
      if (rows.length < want) break;
    }
    return records;
  }

  function toRecord(row: unknown): JournalRecord {
    if (!Array.isArray(row)) throw new Error('journal read returned a row that is not an array');
    const columns: readonly unknown[] = row;
    const [seq, tsMs, recvMs, priority, kind, modelVersion, payload] = columns;
    return {
      device_id: keys.deviceId,
      journal_id: keys.journalId,
      seq: intValue(seq, 'seq'),
      ts_ms: intValue(tsMs, 'ts_ms'),
      recv_ms: intValue(recvMs, 'recv_ms'),
      priority: asPriority(priority),
      kind: textValue(kind, 'kind'),
      model_version: textValue(modelVersion, 'model_version'),
      payload: textValue(payload, 'payload'),
    };
  }

  function info(): JournalInfo {
    const current = meta.read();
    const custody = watermarks.custody();
    return {
      device_id: current.device_id,
      journal_id: current.journal_id,
      created_ms: current.created_ms,
      first_seq: int(firstSeq.get() as Row, 'seq'),
      last_seq: current.last_seq,
      records: current.stored_records,
      bytes: current.stored_bytes,
      budget_bytes: deps.budgetBytes,
      custody,
      forwarded_seq: current.forwarded_seq,
      losses: lossLog.count(),
    };
  }

  return { read, info, losses: (afterSeq) => lossLog.since(afterSeq) };
}
