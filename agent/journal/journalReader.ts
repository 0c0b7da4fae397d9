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
import { asPriority, int, text, type Row } from './journalRows.ts';
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
      readStatements.set(key, statement);
    }
    return statement;
  }

  function read(options: ReadOptions): JournalRecord[] {
    const records: JournalRecord[] = [];
    let bytes = 0;
    for (const row of readStatement(options).iterate(options.after_seq, options.limit) as Iterable<Row>) {
      const payload = text(row, 'payload');
      records.push({
        device_id: keys.deviceId,
        journal_id: keys.journalId,
        seq: int(row, 'seq'),
        ts_ms: int(row, 'ts_ms'),
        recv_ms: int(row, 'recv_ms'),
        priority: asPriority(row.priority),
        kind: text(row, 'kind'),
        model_version: text(row, 'model_version'),
        payload,
      });
      bytes += payload.length;
      if (bytes >= options.max_bytes) break;
    }
    return records;
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
