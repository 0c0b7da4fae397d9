/**
 * The ingest commit: appending batches of events in one write transaction. Each record
 * gets seq = last_seq + 1 (read from `meta` under the write lock, so concurrent writers
 * in other processes never share or skip a seq); when the batch would not fit the budget,
 * retention makes room in the same transaction. The call returns after COMMIT, which with
 * synchronous=FULL means the events are on disk: only then may a producer be acknowledged.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { IngestEvent, Priority } from '../../shared/journal.ts';
import type { AppendResult } from './journalApi.ts';
import type { Write } from './journalConnection.ts';
import { JournalFullError } from './journalErrors.ts';
import type { LossLog } from './journalLosses.ts';
import type { MetaStore } from './journalMeta.ts';
import type { Retention } from './journalRetention.ts';
import type { Watermarks } from './journalWatermarks.ts';

/**
 * Bytes a row counts against the budget beyond its text: the seq, times and priority,
 * the record header and its entry in the (priority, seq) index. An estimate that keeps
 * the budget close to what the file really takes without measuring it on each append.
 */
export const rowOverheadBytes = 64;

/** UTF-8 bytes a row's text takes, plus the fixed per-row overhead. */
export function rowBytes(payload: string, kind: string, modelVersion: string): number {
  return Buffer.byteLength(payload) + Buffer.byteLength(kind) + Buffer.byteLength(modelVersion) + rowOverheadBytes;
}

type PreparedRow = { ts_ms: number; priority: Priority; kind: string; model_version: string; payload: string; size: number };

/** What an empty batch gets: no seq (a fresh object each time; callers may keep it). */
export function emptyAppend(): AppendResult {
  return { first_seq: 0, last_seq: 0, count: 0 };
}

function prepareRows(events: readonly IngestEvent[], recvMs: number, defaultModelVersion: string): PreparedRow[] {
  return events.map((event) => {
    const payload = JSON.stringify(event.payload);
    const modelVersion = event.model_version ?? defaultModelVersion;
    return {
      ts_ms: event.ts_ms ?? recvMs,
      priority: event.priority,
      kind: event.kind,
      model_version: modelVersion,
      payload,
      size: rowBytes(payload, event.kind, modelVersion),
    };
  });
}

export type WriterDeps = {
  db: DatabaseSync;
  write: Write;
  meta: MetaStore;
  watermarks: Watermarks;
  retention: Retention;
  lossLog: LossLog;
  budgetBytes: number;
  /** model_version for events that do not name one. */
  defaultModelVersion: string;
};

export type Writer = {
  appendBatches: (batches: readonly (readonly IngestEvent[])[], recvMs: number) => AppendResult[];
};

export function createWriter(deps: WriterDeps): Writer {
  const { write, meta, watermarks, retention, lossLog, budgetBytes } = deps;
  const insertRecord = deps.db.prepare(
    'INSERT INTO records (seq, ts_ms, recv_ms, priority, kind, model_version, payload, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );

  function appendBatches(batches: readonly (readonly IngestEvent[])[], recvMs: number): AppendResult[] {
    // Serialise before taking the write lock: the lock is held only for SQLite's work.
    const prepared = batches.map((events) => prepareRows(events, recvMs, deps.defaultModelVersion));
    const incomingBytes = prepared.reduce((sum, rows) => sum + rows.reduce((s, r) => s + r.size, 0), 0);
    const incomingRecords = prepared.reduce((sum, rows) => sum + rows.length, 0);
    if (incomingRecords === 0) return prepared.map(() => emptyAppend());
    if (incomingBytes > budgetBytes) {
      throw new JournalFullError(`A batch of ${incomingBytes} bytes cannot fit in a journal budget of ${budgetBytes} bytes.`);
    }
    return write('append events', () => {
      const current = meta.read();
      let storedBytes = current.stored_bytes;
      let storedRecords = current.stored_records;
      if (storedBytes + incomingBytes > budgetBytes) {
        const outcome = retention.makeRoom(storedBytes, budgetBytes - incomingBytes, watermarks.confirmedThrough(current));
        if (!outcome.fits) {
          throw new JournalFullError(
            `The journal budget of ${budgetBytes} bytes is full of unconfirmed priority-1 (safety) records, which are never dropped unconfirmed.`,
          );
        }
        lossLog.record(outcome.losses, recvMs);
        storedBytes -= outcome.freedBytes;
        storedRecords -= outcome.freedRecords;
      }
      let seq = current.last_seq;
      const results: AppendResult[] = [];
      for (const rows of prepared) {
        const first = seq + 1;
        for (const row of rows) {
          seq++;
          insertRecord.run(seq, row.ts_ms, recvMs, row.priority, row.kind, row.model_version, row.payload, row.size);
        }
        results.push(rows.length === 0 ? emptyAppend() : { first_seq: first, last_seq: seq, count: rows.length });
      }
      meta.setCounters(seq, storedRecords + incomingRecords, storedBytes + incomingBytes);
      return results;
    });
  }

  return { appendBatches };
}
