/**
 * What downstream confirmed it holds: custody (per courier, the seq through which it
 * holds everything durably) and the forwarded watermark (through which ClickHouse holds
 * everything, from the uplink or reported by a courier).
 *
 * Both are seq watermarks that never move back and are clamped to last_seq: a watermark
 * past what exists would mark records not yet written as confirmed, and retention would
 * later drop them silently. A record at or below either watermark is "confirmed" — the
 * only kind retention may drop without a loss record.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { JournalInfo } from '../../shared/journal.ts';
import type { Write } from './journalConnection.ts';
import type { Meta, MetaStore } from './journalMeta.ts';
import { int, text, type Row } from './journalRows.ts';

export type Watermarks = {
  /** The highest seq confirmed by anyone: any courier's custody or the forwarded watermark. */
  confirmedThrough: (meta: Meta) => number;
  custody: () => JournalInfo['custody'];
  ackCustody: (courierId: string, throughSeq: number, atMs: number) => number;
  ackForwarded: (by: string, throughSeq: number, atMs: number) => number;
};

export function createWatermarks(db: DatabaseSync, meta: MetaStore, write: Write): Watermarks {
  const maxCustody = db.prepare('SELECT coalesce(max(through_seq), 0) AS through FROM custody');
  const upsertCustody = db.prepare(
    `INSERT INTO custody (courier_id, through_seq, at_ms) VALUES (?, ?, ?)
     ON CONFLICT (courier_id) DO UPDATE SET
       at_ms = CASE WHEN excluded.through_seq > through_seq THEN excluded.at_ms ELSE at_ms END,
       through_seq = max(through_seq, excluded.through_seq)`,
  );
  const selectCustodyOf = db.prepare('SELECT through_seq FROM custody WHERE courier_id = ?');
  const selectCustody = db.prepare('SELECT courier_id, through_seq, at_ms FROM custody ORDER BY courier_id');
  const updateForwarded = db.prepare(
    'UPDATE meta SET forwarded_seq = ?, forwarded_by = ?, forwarded_ms = ? WHERE id = 1 AND forwarded_seq < ?',
  );

  return {
    confirmedThrough: (current) => Math.max(int(maxCustody.get() as Row, 'through'), current.forwarded_seq),
    custody: () =>
      (selectCustody.all() as Row[]).map((row) => ({
        courier_id: text(row, 'courier_id'),
        through_seq: int(row, 'through_seq'),
        at_ms: int(row, 'at_ms'),
      })),
    ackCustody: (courierId, throughSeq, atMs) =>
      write('record custody', () => {
        const through = Math.min(throughSeq, meta.read().last_seq);
        upsertCustody.run(courierId, Math.max(0, through), atMs);
        return int(selectCustodyOf.get(courierId) as Row, 'through_seq');
      }),
    ackForwarded: (by, throughSeq, atMs) =>
      write('record forwarding', () => {
        const through = Math.min(throughSeq, meta.read().last_seq);
        updateForwarded.run(through, by, atMs, through);
        return meta.read().forwarded_seq;
      }),
  };
}
