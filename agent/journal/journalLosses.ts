/**
 * Loss records: every range of unconfirmed records retention dropped, with its reason, so
 * every gap downstream is explained. They are written in the same transaction as the
 * delete they describe, and travel downstream like data (`Journal.losses`).
 */
import type { DatabaseSync } from 'node:sqlite';
import type { LossRecord } from '../../shared/journal.ts';
import type { JournalKeys } from './journalMeta.ts';
import type { PendingLoss } from './journalRetention.ts';
import { asPriority, int, text, type Row } from './journalRows.ts';

export type LossLog = {
  /** Records the ranges one retention step dropped; only inside that step's write transaction. */
  record(pending: readonly PendingLoss[], atMs: number): LossRecord[];
  /** Loss records that reach past `afterSeq`, oldest first. */
  since(afterSeq: number): LossRecord[];
  count(): number;
};

export function createLossLog(db: DatabaseSync, keys: JournalKeys): LossLog {
  const insertLoss = db.prepare('INSERT INTO losses (from_seq, to_seq, count, priority, reason, at_ms) VALUES (?, ?, ?, ?, ?, ?)');
  const selectLosses = db.prepare('SELECT from_seq, to_seq, count, priority, reason, at_ms FROM losses WHERE to_seq > ? ORDER BY from_seq, id');
  const countLosses = db.prepare('SELECT count(*) AS n FROM losses');

  return {
    record(pending, atMs) {
      return pending.map((loss) => {
        insertLoss.run(loss.from_seq, loss.to_seq, loss.count, loss.priority, loss.reason, atMs);
        return { device_id: keys.deviceId, journal_id: keys.journalId, ...loss, at_ms: atMs };
      });
    },
    since(afterSeq) {
      return (selectLosses.all(afterSeq) as Row[]).map((row) => ({
        device_id: keys.deviceId,
        journal_id: keys.journalId,
        from_seq: int(row, 'from_seq'),
        to_seq: int(row, 'to_seq'),
        count: int(row, 'count'),
        priority: asPriority(row.priority),
        reason: text(row, 'reason') as LossRecord['reason'],
        at_ms: int(row, 'at_ms'),
      }));
    },
    count() {
      return int(countLosses.get() as Row, 'n');
    },
  };
}
