/**
 * The periodic retention pass (and the one after a lowered budget): drops what the
 * maximum age requires, then what the budget requires, in one write transaction with the
 * loss records and counters. What may be dropped, and in which order, is
 * `journalRetention.ts`; this file only runs it outside an append.
 */
import type { LossRecord } from '../../shared/journal.ts';
import type { Write } from './journalConnection.ts';
import type { LossLog } from './journalLosses.ts';
import type { MetaStore } from './journalMeta.ts';
import type { Retention } from './journalRetention.ts';
import type { Watermarks } from './journalWatermarks.ts';

export type RetentionPassDeps = {
  write: Write;
  meta: MetaStore;
  watermarks: Watermarks;
  retention: Retention;
  lossLog: LossLog;
  budgetBytes: number;
};

/** Returns `enforceRetention(nowMs)`: the pass, answering the loss records it made. */
export function createRetentionPass(deps: RetentionPassDeps): (nowMs: number) => LossRecord[] {
  const { write, meta, watermarks, retention, lossLog, budgetBytes } = deps;
  return (nowMs) =>
    write('enforce retention', () => {
      const current = meta.read();
      const confirmed = watermarks.confirmedThrough(current);
      const expired = retention.dropExpired(nowMs, confirmed);
      let storedBytes = current.stored_bytes - expired.freedBytes;
      let storedRecords = current.stored_records - expired.freedRecords;
      const recorded = lossLog.record(expired.losses, nowMs);
      if (storedBytes > budgetBytes) {
        // Over budget without an append (the budget was lowered): drop what may be
        // dropped; unconfirmed safety data stays even if that leaves the journal over.
        const room = retention.makeRoom(storedBytes, budgetBytes, confirmed);
        recorded.push(...lossLog.record(room.losses, nowMs));
        storedBytes -= room.freedBytes;
        storedRecords -= room.freedRecords;
      }
      meta.setCounters(current.last_seq, storedRecords, storedBytes);
      return recorded;
    });
}
