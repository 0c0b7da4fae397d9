/**
 * Records ClickHouse confirmed once and no longer holds: deleted centrally (ALTER TABLE …
 * DELETE, a dropped partition) or on a replica that is behind. Reconcile finds them by the
 * rows present and puts them back in the forward queue here; the next forward sends them
 * again with the server's insert deduplication off, because the server may still remember
 * the block (its hash, kept for replicated_deduplication_window blocks) or the batch's
 * insert_deduplication_token from the first time and would answer "OK" while skipping it.
 * Rows sent once too often collapse under the ReplacingMergeTree key, so a resend never
 * double-counts; a skipped one would be a silent loss.
 *
 * Owns the `courier_resend` meta key (the journals to resend without deduplication); the
 * forwarded marks it clears are the courier store's (createForwardedUnmarker).
 */
import { readMetaValue, writeMetaValue } from '../kernel/store/metaValues.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { createForwardedUnmarker } from './courierStore.ts';

const META_KEY = 'courier_resend';

export type JournalKey = { device_id: string; journal_id: string };

const keyOf = (j: JournalKey): string => `${j.device_id}\n${j.journal_id}`;

function readKeys(db: Store): Set<string> {
  const saved = readMetaValue(db, META_KEY);
  if (saved === null) return new Set();
  const parsed: unknown = JSON.parse(saved);
  return new Set(Array.isArray(parsed) ? parsed.filter((k): k is string => typeof k === 'string') : []);
}

export function createResendQueue(db: Store) {
  const unmark = createForwardedUnmarker(db);
  return {
    /**
     * Puts forwarded records of [from, to] ranges back in the queue and marks the journal
     * to be sent without deduplication; one transaction. Returns how many rows it requeued.
     */
    requeueAbsent(journal: JournalKey, ranges: readonly { from: number; to: number }[]): number {
      if (ranges.length === 0) return 0;
      return db.transaction(() => {
        let requeued = 0;
        for (const r of ranges) requeued += unmark(journal.device_id, journal.journal_id, r.from, r.to);
        if (requeued > 0) {
          const keys = readKeys(db);
          keys.add(keyOf(journal));
          writeMetaValue(db, META_KEY, JSON.stringify([...keys].sort()));
        }
        return requeued;
      })();
    },
    /** Whether the journal's pending records must go without deduplication. */
    mustResend(journal: JournalKey): boolean {
      return readKeys(db).has(keyOf(journal));
    },
    /** The journal's pending records have all been sent and acknowledged: back to normal inserts. */
    resent(journal: JournalKey): void {
      const keys = readKeys(db);
      if (!keys.delete(keyOf(journal))) return;
      writeMetaValue(db, META_KEY, JSON.stringify([...keys].sort()));
    },
  };
}

export type ResendQueue = ReturnType<typeof createResendQueue>;
