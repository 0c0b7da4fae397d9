/**
 * Rows ClickHouse refused. The row stays in courier_records / courier_losses with its
 * quarantine_state set, so it no longer counts as pending and never blocks the rest; the
 * quarantine table keeps the server's reason, how often it was tried, and a technician's
 * decision (retry, or discard with a reason that stays on record).
 */
import type { QuarantineEntry } from '../../shared/courier.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { rowReader, type Row } from '../kernel/store/storeRows.ts';
import { createQuarantineFlags } from './courierStore.ts';

export type QuarantineKey = { kind: 'record' | 'loss'; device_id: string; journal_id: string; seq: number; to_seq: number; priority: number };

export type QuarantineStore = ReturnType<typeof createQuarantineStore>;

const PREVIEW_CHARS = 400;
const quarantine = rowReader('courier_quarantine');
const kinds = ['record', 'loss'] as const;
const states = ['quarantined', 'requeued', 'discarded'] as const;

/** The only code that reads or writes courier_quarantine. */
export function createQuarantineStore(db: Store) {
  const flags = createQuarantineFlags(db);
  const upsert = db.prepare(
    `INSERT INTO courier_quarantine (kind, device_id, journal_id, seq, to_seq, priority, state, reason, server_code, preview, attempts, quarantined_ms, last_attempt_ms)
     VALUES (@kind, @device_id, @journal_id, @seq, @to_seq, @priority, 'quarantined', @reason, @server_code, @preview, 1, @now, @now)
     ON CONFLICT (kind, device_id, journal_id, seq, to_seq, priority) DO UPDATE SET
       state = 'quarantined', reason = excluded.reason, server_code = excluded.server_code, preview = excluded.preview,
       attempts = attempts + 1, last_attempt_ms = excluded.last_attempt_ms`,
  );
  const byId = db.prepare(`SELECT * FROM courier_quarantine WHERE id = ?`);
  const selectQuarantinedKeys = db.prepare(`SELECT id, kind, device_id, journal_id, seq, to_seq, priority, state FROM courier_quarantine WHERE state IN ('quarantined') ORDER BY id`);
  const deleteRequeued = db.prepare(`DELETE FROM courier_quarantine WHERE state = 'requeued' AND kind = ? AND device_id = ? AND journal_id = ? AND seq BETWEEN ? AND ?`);
  const setRequeued = db.prepare(`UPDATE courier_quarantine SET state = 'requeued' WHERE id = ?`);
  const setDiscarded = db.prepare(`UPDATE courier_quarantine SET state = 'discarded', discarded_ms = ?, discard_reason = ? WHERE id = ?`);
  const listQuarantined = db.prepare(`SELECT * FROM courier_quarantine WHERE state IN ('quarantined') ORDER BY device_id, journal_id, seq LIMIT ?`);
  const listWithDiscarded = db.prepare(`SELECT * FROM courier_quarantine WHERE state IN ('quarantined', 'discarded') ORDER BY device_id, journal_id, seq LIMIT ?`);
  const countByState = db.prepare(`SELECT sum(state = 'quarantined') AS q, sum(state = 'discarded') AS d FROM courier_quarantine`);
  const countForJournal = db.prepare(`SELECT count(*) AS n FROM courier_quarantine WHERE device_id = ? AND journal_id = ? AND state = 'quarantined'`);
  const countSetAsideRecords = db.prepare(`SELECT count(*) AS n FROM courier_quarantine WHERE kind = 'record' AND state IN ('quarantined', 'discarded')`);
  const selectDiscardedRecords = db.prepare(
    `SELECT seq, discard_reason FROM courier_quarantine WHERE kind = 'record' AND state = 'discarded' AND device_id = ? AND journal_id = ? AND seq BETWEEN ? AND ? ORDER BY seq`,
  );

  function selectIds(ids: readonly number[] | undefined): (QuarantineKey & { id: number })[] {
    const all = selectQuarantinedKeys.all().map((raw) => {
      const row = quarantine.row(raw);
      return { id: quarantine.int(row, 'id'), ...keyOf(row) };
    });
    if (ids === undefined) return all;
    const wanted = new Set(ids);
    return all.filter((row) => wanted.has(row.id));
  }

  return {
    /** Sets a refused row aside with the server's words, in one transaction with its flag. */
    quarantine(key: QuarantineKey, detail: { reason: string; serverCode: string | null; row: string; now: number }): void {
      db.transaction(() => {
        upsert.run({ ...key, reason: detail.reason, server_code: detail.serverCode, preview: detail.row.slice(0, PREVIEW_CHARS), now: detail.now });
        flags.flag(key, 'quarantined');
      })();
    },
    /** A requeued row that ClickHouse has now taken: its quarantine entry is done. */
    forgetRequeued(kind: 'record' | 'loss', deviceId: string, journalId: string, fromSeq: number, toSeq: number): void {
      deleteRequeued.run(kind, deviceId, journalId, fromSeq, toSeq);
    },
    /** Puts quarantined rows (these, or all) back in the forward queue. */
    requeue(ids?: readonly number[]): number {
      return db.transaction(() => {
        const rows = selectIds(ids);
        for (const row of rows) {
          flags.flag(row, null);
          setRequeued.run(row.id);
        }
        return rows.length;
      })();
    },
    /** Gives up on quarantined rows for good, keeping who-knows-why with them. */
    discard(ids: readonly number[], reason: string, now: number): number {
      return db.transaction(() => {
        const rows = selectIds(ids);
        for (const row of rows) {
          flags.flag(row, 'discarded');
          setDiscarded.run(now, reason, row.id);
        }
        return rows.length;
      })();
    },
    list(options: { includeDiscarded: boolean; limit: number }): { entries: QuarantineEntry[]; quarantined: number; discarded: number } {
      const rows = (options.includeDiscarded ? listWithDiscarded : listQuarantined).all(options.limit);
      const counts = quarantine.row(countByState.get());
      return { entries: rows.map((raw) => toEntry(quarantine.row(raw))), quarantined: quarantine.intOrNull(counts, 'q') ?? 0, discarded: quarantine.intOrNull(counts, 'd') ?? 0 };
    },
    get(id: number): QuarantineEntry | null {
      const row = quarantine.rowOrNull(byId.get(id));
      return row === null ? null : toEntry(row);
    },
    /** Quarantined (not discarded) rows per journal, for courier.status. */
    countFor(deviceId: string, journalId: string): number {
      return quarantine.int(quarantine.row(countForJournal.get(deviceId, journalId)), 'n');
    },
    /** Records set aside (quarantined or discarded): still unforwarded, but not waiting to be sent. */
    setAsideRecords(): number {
      return quarantine.int(quarantine.row(countSetAsideRecords.get()), 'n');
    },
    /** Discarded records of a journal within [from, to], with the reason each was given up for. */
    discardedRecords(deviceId: string, journalId: string, from: number, to: number): { seq: number; reason: string | null }[] {
      return selectDiscardedRecords.all(deviceId, journalId, from, to).map((raw) => {
        const row = quarantine.row(raw);
        return { seq: quarantine.int(row, 'seq'), reason: quarantine.textOrNull(row, 'discard_reason') };
      });
    },
  };
}

function keyOf(row: Row): QuarantineKey {
  return {
    kind: quarantine.oneOf(row, 'kind', kinds),
    device_id: quarantine.text(row, 'device_id'),
    journal_id: quarantine.text(row, 'journal_id'),
    seq: quarantine.int(row, 'seq'),
    to_seq: quarantine.int(row, 'to_seq'),
    priority: quarantine.int(row, 'priority'),
  };
}

function toEntry(row: Row): QuarantineEntry {
  const key = keyOf(row);
  const state = quarantine.oneOf(row, 'state', states);
  return {
    id: quarantine.int(row, 'id'),
    kind: key.kind,
    device_id: key.device_id,
    journal_id: key.journal_id,
    seq: key.seq,
    to_seq: key.to_seq,
    // A requeued row shows as quarantined until ClickHouse takes it.
    state: state === 'discarded' ? 'discarded' : 'quarantined',
    reason: quarantine.text(row, 'reason'),
    attempts: quarantine.int(row, 'attempts'),
    quarantined_ms: quarantine.int(row, 'quarantined_ms'),
    last_attempt_ms: quarantine.int(row, 'last_attempt_ms'),
    preview: quarantine.text(row, 'preview'),
    discarded_ms: quarantine.intOrNull(row, 'discarded_ms'),
    discard_reason: quarantine.textOrNull(row, 'discard_reason'),
  };
}
