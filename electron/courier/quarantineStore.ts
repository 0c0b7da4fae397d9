/**
 * Rows ClickHouse refused. The row stays in courier_records / courier_losses with its
 * quarantine_state set, so it no longer counts as pending and never blocks the rest; the
 * quarantine table keeps the server's reason, how often it was tried, and a technician's
 * decision (retry, or discard with a reason that stays on record).
 */
import type { QuarantineEntry } from '../../shared/courier.ts';
import type { Store } from '../kernel/store/openStore.ts';

export type QuarantineKey = { kind: 'record' | 'loss'; device_id: string; journal_id: string; seq: number; to_seq: number; priority: number };

export type QuarantineStore = ReturnType<typeof createQuarantineStore>;

const PREVIEW_CHARS = 400;

export function createQuarantineStore(db: Store) {
  const upsert = db.prepare(
    `INSERT INTO courier_quarantine (kind, device_id, journal_id, seq, to_seq, priority, state, reason, server_code, preview, attempts, quarantined_ms, last_attempt_ms)
     VALUES (@kind, @device_id, @journal_id, @seq, @to_seq, @priority, 'quarantined', @reason, @server_code, @preview, 1, @now, @now)
     ON CONFLICT (kind, device_id, journal_id, seq, to_seq, priority) DO UPDATE SET
       state = 'quarantined', reason = excluded.reason, server_code = excluded.server_code, preview = excluded.preview,
       attempts = attempts + 1, last_attempt_ms = excluded.last_attempt_ms`,
  );
  const flagRecord = db.prepare(`UPDATE courier_records SET quarantine_state = ? WHERE device_id = ? AND journal_id = ? AND seq = ?`);
  const flagLoss = db.prepare(`UPDATE courier_losses SET quarantine_state = ? WHERE device_id = ? AND journal_id = ? AND from_seq = ? AND to_seq = ? AND priority = ?`);
  const byId = db.prepare(`SELECT * FROM courier_quarantine WHERE id = ?`);

  function flag(key: QuarantineKey, state: 'quarantined' | 'discarded' | null): void {
    if (key.kind === 'record') flagRecord.run(state, key.device_id, key.journal_id, key.seq);
    else flagLoss.run(state, key.device_id, key.journal_id, key.seq, key.to_seq, key.priority);
  }

  function selectIds(ids: readonly number[] | undefined, states: readonly string[]): (QuarantineKey & { id: number })[] {
    const all = db.prepare(`SELECT id, kind, device_id, journal_id, seq, to_seq, priority, state FROM courier_quarantine WHERE state IN (${states.map(() => '?').join(', ')}) ORDER BY id`).all(...states) as (QuarantineKey & { id: number })[];
    if (ids === undefined) return all;
    const wanted = new Set(ids);
    return all.filter((row) => wanted.has(row.id));
  }

  return {
    /** Sets a refused row aside with the server's words, in one transaction with its flag. */
    quarantine(key: QuarantineKey, detail: { reason: string; serverCode: string | null; row: string; now: number }): void {
      db.transaction(() => {
        upsert.run({ ...key, reason: detail.reason, server_code: detail.serverCode, preview: detail.row.slice(0, PREVIEW_CHARS), now: detail.now });
        flag(key, 'quarantined');
      })();
    },
    /** A requeued row that ClickHouse has now taken: its quarantine entry is done. */
    forgetRequeued(kind: 'record' | 'loss', deviceId: string, journalId: string, fromSeq: number, toSeq: number): void {
      db.prepare(`DELETE FROM courier_quarantine WHERE state = 'requeued' AND kind = ? AND device_id = ? AND journal_id = ? AND seq BETWEEN ? AND ?`).run(kind, deviceId, journalId, fromSeq, toSeq);
    },
    /** Puts quarantined rows (these, or all) back in the forward queue. */
    requeue(ids?: readonly number[]): number {
      return db.transaction(() => {
        const rows = selectIds(ids, ['quarantined']);
        for (const row of rows) {
          flag(row, null);
          db.prepare(`UPDATE courier_quarantine SET state = 'requeued' WHERE id = ?`).run(row.id);
        }
        return rows.length;
      })();
    },
    /** Gives up on quarantined rows for good, keeping who-knows-why with them. */
    discard(ids: readonly number[], reason: string, now: number): number {
      return db.transaction(() => {
        const rows = selectIds(ids, ['quarantined']);
        for (const row of rows) {
          flag(row, 'discarded');
          db.prepare(`UPDATE courier_quarantine SET state = 'discarded', discarded_ms = ?, discard_reason = ? WHERE id = ?`).run(now, reason, row.id);
        }
        return rows.length;
      })();
    },
    list(options: { includeDiscarded: boolean; limit: number }): { entries: QuarantineEntry[]; quarantined: number; discarded: number } {
      const states = options.includeDiscarded ? `('quarantined', 'discarded')` : `('quarantined')`;
      const rows = db.prepare(`SELECT * FROM courier_quarantine WHERE state IN ${states} ORDER BY device_id, journal_id, seq LIMIT ?`).all(options.limit) as QuarantineRow[];
      const counts = db.prepare(`SELECT sum(state = 'quarantined') AS q, sum(state = 'discarded') AS d FROM courier_quarantine`).get() as { q: number | null; d: number | null };
      return { entries: rows.map(toEntry), quarantined: counts.q ?? 0, discarded: counts.d ?? 0 };
    },
    get(id: number): QuarantineEntry | null {
      const row = byId.get(id) as QuarantineRow | undefined;
      return row ? toEntry(row) : null;
    },
    /** Quarantined (not discarded) rows per journal, for courier.status. */
    countFor(deviceId: string, journalId: string): number {
      return (db.prepare(`SELECT count(*) AS n FROM courier_quarantine WHERE device_id = ? AND journal_id = ? AND state = 'quarantined'`).get(deviceId, journalId) as { n: number }).n;
    },
  };
}

type QuarantineRow = {
  id: number;
  kind: 'record' | 'loss';
  device_id: string;
  journal_id: string;
  seq: number;
  to_seq: number;
  priority: number;
  state: 'quarantined' | 'requeued' | 'discarded';
  reason: string;
  server_code: string | null;
  preview: string;
  attempts: number;
  quarantined_ms: number;
  last_attempt_ms: number;
  discarded_ms: number | null;
  discard_reason: string | null;
};

function toEntry(row: QuarantineRow): QuarantineEntry {
  return {
    id: row.id,
    kind: row.kind,
    device_id: row.device_id,
    journal_id: row.journal_id,
    seq: row.seq,
    to_seq: row.to_seq,
    // A requeued row shows as quarantined until ClickHouse takes it.
    state: row.state === 'discarded' ? 'discarded' : 'quarantined',
    reason: row.reason,
    attempts: row.attempts,
    quarantined_ms: row.quarantined_ms,
    last_attempt_ms: row.last_attempt_ms,
    preview: row.preview,
    discarded_ms: row.discarded_ms,
    discard_reason: row.discard_reason,
  };
}
