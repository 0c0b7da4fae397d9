/**
 * What the courier holds on this laptop: records pulled from devices (keyed like
 * ClickHouse, so a record pulled twice is stored once), their loss records, custody
 * state per journal, and the pulls themselves. The only code that reads or writes
 * courier_journals, courier_records, courier_losses and courier_pulls (and the meta key
 * `courier_id`); every write is one transaction. Statements are prepared once per store,
 * and rows are read column by column with a typed reader (no zod per row: a forward reads
 * batches of 50,000).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { TELEMETRY_INSERT_COLUMNS } from '../../shared/clickhouseSchema.ts';
import type { JournalRecord, LossRecord } from '../../shared/journal.ts';
import { keepFirstMetaValue, readMetaValue } from '../kernel/store/metaValues.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { createRecordInserter } from './recordInsert.ts';
import { rowReader, type Row } from '../kernel/store/storeRows.ts';
import type { HeldRun, JournalState } from './courierStoreTypes.ts';
import { journalKeyField, telemetryTabSeparatedLine } from './tabSeparatedSql.ts';

export type { HeldRun, JournalState } from './courierStoreTypes.ts';

const journals = rowReader('courier_journals');
const records = rowReader('courier_records');
const losses = rowReader('courier_losses');
const pulls = rowReader('courier_pulls');
const heldStates = ['pending', 'forwarded', 'quarantined', 'discarded'] as const;

function toJournalState(r: Row): JournalState {
  return {
    device_id: journals.text(r, 'device_id'),
    journal_id: journals.text(r, 'journal_id'),
    device_ref: journals.textOrNull(r, 'device_ref'),
    site: journals.text(r, 'site'),
    contiguous_seq: journals.int(r, 'contiguous_seq'),
    agent_last_seq: journals.int(r, 'agent_last_seq'),
    agent_first_seq: journals.int(r, 'agent_first_seq'),
    custody_acked_seq: journals.int(r, 'custody_acked_seq'),
    forwarded_reported_seq: journals.int(r, 'forwarded_reported_seq'),
    last_pull_ms: journals.int(r, 'last_pull_ms'),
    last_clock_offset_ms: journals.intOrNull(r, 'last_clock_offset_ms'),
  };
}

/** The multi-row INSERT recordInsert.ts runs, `rows` records of 14 parameters each. */
function recordInsertSql(rows: number): string {
  const values = Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
  return `INSERT OR IGNORE INTO courier_records (device_id, journal_id, seq, ts_ms, recv_ms, priority, kind, model_version, payload, site, via, clock_offset_ms, pull_id, pulled_ms) VALUES ${values}`;
}

/**
 * Makes forwarded records of a seq range pending again (resendQueue.ts: ClickHouse no longer
 * holds them); quarantined rows stay where they are. Returns how many rows changed.
 */
export function createForwardedUnmarker(db: Store): (deviceId: string, journalId: string, from: number, to: number) => number {
  const unmark = db.prepare(
    `UPDATE courier_records SET forwarded_ms = NULL WHERE device_id = ? AND journal_id = ? AND seq BETWEEN ? AND ? AND forwarded_ms IS NOT NULL AND quarantine_state IS NULL`,
  );
  return (deviceId, journalId, from, to) => unmark.run(deviceId, journalId, from, to).changes;
}

export type CourierStore = ReturnType<typeof createCourierStore>;

/** What a pull writes, custody state, status counts and what reconcile reads: the parts below, by subject. */
export function createCourierStore(db: Store) {
  return {
    /** This laptop's courier id, made once: custody on the device is kept per courier. */
    courierId(): string {
      const saved = readMetaValue(db, 'courier_id');
      if (saved !== null) return saved;
      return keepFirstMetaValue(db, 'courier_id', `laptop:${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 40)}-${randomBytes(4).toString('hex')}`);
    },
    ...journalCustody(db),
    ...heldRecords(db),
    ...pullLog(db),
  };
}

/** Per journal: what the agent said of it, how far custody and forwarding got. */
function journalCustody(db: Store) {
  const upsertJournal = db.prepare(
    `INSERT INTO courier_journals (device_id, journal_id, device_ref, site, first_pull_ms, last_pull_ms, contiguous_seq, agent_last_seq, agent_first_seq, last_clock_offset_ms)
     VALUES (@device_id, @journal_id, @device_ref, @site, @now, @now, 0, @agent_last_seq, @agent_first_seq, @clock_offset_ms)
     ON CONFLICT (device_id, journal_id) DO UPDATE SET
       device_ref = excluded.device_ref, site = excluded.site, last_pull_ms = excluded.last_pull_ms,
       agent_last_seq = excluded.agent_last_seq, agent_first_seq = excluded.agent_first_seq,
       last_clock_offset_ms = excluded.last_clock_offset_ms`,
  );
  const selectJournal = db.prepare(`SELECT * FROM courier_journals WHERE device_id = ? AND journal_id = ?`);
  const selectJournals = db.prepare(`SELECT * FROM courier_journals ORDER BY device_id, first_pull_ms`);
  const updateHead = db.prepare(
    `UPDATE courier_journals SET agent_last_seq = max(?, contiguous_seq), agent_first_seq = ?, forwarded_reported_seq = max(forwarded_reported_seq, ?), last_pull_ms = ?
     WHERE device_id = ? AND journal_id = ?`,
  );
  const updateCustodyAcked = db.prepare(`UPDATE courier_journals SET custody_acked_seq = max(custody_acked_seq, ?) WHERE device_id = ? AND journal_id = ?`);
  const updateForwardReported = db.prepare(`UPDATE courier_journals SET forwarded_reported_seq = max(forwarded_reported_seq, ?) WHERE device_id = ? AND journal_id = ?`);
  // A row the technician discarded (refused by ClickHouse, given up with a reason) no longer holds the mark back.
  const firstUnconfirmed = db.prepare(
    `SELECT min(seq) AS seq FROM courier_records WHERE device_id = ? AND journal_id = ? AND forwarded_ms IS NULL AND quarantine_state IS NOT 'discarded'`,
  );
  const selectLastForward = db.prepare(`SELECT last_forward_ms FROM courier_journals WHERE device_id = ? AND journal_id = ?`);
  const selectLatestSite = db.prepare(`SELECT site FROM courier_journals WHERE device_id = ? ORDER BY last_pull_ms DESC LIMIT 1`);

  function journal(deviceId: string, journalId: string): JournalState | null {
    const row = journals.rowOrNull(selectJournal.get(deviceId, journalId));
    return row === null ? null : toJournalState(row);
  }

  return {
    journal,
    journals(): JournalState[] {
      return selectJournals.all().map((raw) => toJournalState(journals.row(raw)));
    },
    /** Records what the agent says about a journal at the start of a pull. */
    noteJournal(j: { device_id: string; journal_id: string; device_ref: string | null; site: string; agent_last_seq: number; agent_first_seq: number; clock_offset_ms: number; now: number }): JournalState {
      upsertJournal.run({ ...j, clock_offset_ms: Math.round(j.clock_offset_ms) });
      return toJournalState(journals.row(selectJournal.get(j.device_id, j.journal_id)));
    },
    /**
     * The agent's head as it answered at the end of a pull: what reconcile may call
     * complete is measured against this, and the time it was heard is the pull's end.
     * The forwarded mark is the device's own (this laptop's reports, another courier's,
     * the uplink's), which a later health sample's backlog counts from.
     */
    noteHead(deviceId: string, journalId: string, head: { last_seq: number; first_seq: number; forwarded_seq: number }, now: number): void {
      updateHead.run(head.last_seq, head.first_seq, head.forwarded_seq, now, deviceId, journalId);
    },
    markCustodyAcked(deviceId: string, journalId: string, seq: number): void {
      updateCustodyAcked.run(seq, deviceId, journalId);
    },
    markForwardReported(deviceId: string, journalId: string, seq: number): void {
      updateForwardReported.run(seq, deviceId, journalId);
    },
    /**
     * The highest seq through which everything this laptop holds of the journal is
     * confirmed in ClickHouse (and no further than what it holds contiguously).
     */
    forwardedThrough(deviceId: string, journalId: string): number {
      const state = journal(deviceId, journalId);
      if (!state) return 0;
      const pending = records.intOrNull(records.row(firstUnconfirmed.get(deviceId, journalId)), 'seq');
      return pending === null ? state.contiguous_seq : Math.min(state.contiguous_seq, pending - 1);
    },
    /** When a forward last confirmed a batch of this journal; null if never. */
    lastForwardMs(deviceId: string, journalId: string): number | null {
      const row = journals.rowOrNull(selectLastForward.get(deviceId, journalId));
      return row === null ? null : journals.intOrNull(row, 'last_forward_ms');
    },
    /** The site of the device's most recently pulled journal (what its health history is filed under); null if none. */
    latestSite(deviceId: string): string | null {
      const row = journals.rowOrNull(selectLatestSite.get(deviceId));
      return row === null ? null : journals.text(row, 'site');
    },
  };
}

/** The records and loss records held: stored by a pull, counted for courier.status, read by reconcile. */
function heldRecords(db: Store) {
  const insertRecords = createRecordInserter((rows) => db.prepare(recordInsertSql(rows)));
  const advanceContiguous = db.prepare(
    `UPDATE courier_journals SET contiguous_seq = max(contiguous_seq, ?), last_pull_ms = ? WHERE device_id = ? AND journal_id = ?`,
  );
  const insertLoss = db.prepare(
    `INSERT OR IGNORE INTO courier_losses (device_id, journal_id, from_seq, to_seq, count, priority, reason, at_ms, site, pulled_ms)
     VALUES (@device_id, @journal_id, @from_seq, @to_seq, @count, @priority, @reason, @at_ms, @site, @now)`,
  );
  const countHeld = db.prepare(`SELECT count(*) AS n FROM courier_records WHERE device_id = ? AND journal_id = ?`);
  const selectRecordCounts = db.prepare(
    `SELECT count(*) AS held, sum(forwarded_ms IS NULL AND quarantine_state IS NULL) AS pending FROM courier_records WHERE device_id = ? AND journal_id = ?`,
  );
  const selectLossCounts = db.prepare(`SELECT count(*) AS losses, coalesce(sum(count), 0) AS lost FROM courier_losses WHERE device_id = ? AND journal_id = ?`);
  const selectMaxHeld = db.prepare(`SELECT max(seq) AS m FROM courier_records WHERE device_id = ? AND journal_id = ?`);
  const selectMaxLost = db.prepare(`SELECT max(to_seq) AS m FROM courier_losses WHERE device_id = ? AND journal_id = ?`);
  const selectHeldRuns = db.prepare(
    `SELECT min(seq) AS a, max(seq) AS b, st FROM (
       SELECT seq, st, seq - row_number() OVER (PARTITION BY st ORDER BY seq) AS grp FROM (
         SELECT seq, coalesce(quarantine_state, CASE WHEN forwarded_ms IS NULL THEN 'pending' ELSE 'forwarded' END) AS st
         FROM courier_records WHERE device_id = ? AND journal_id = ? AND seq BETWEEN ? AND ?))
     GROUP BY st, grp ORDER BY a`,
  );
  const selectLossRanges = db.prepare(
    `SELECT from_seq, to_seq, reason FROM courier_losses WHERE device_id = ? AND journal_id = ? AND to_seq >= ? AND from_seq <= ? ORDER BY from_seq`,
  );

  return {
    /**
     * Stores a verified batch and, in the same transaction, moves the contiguous watermark
     * (only forward): after a crash either both happened or neither.
     */
    storeBatch(batch: {
      records: readonly JournalRecord[];
      site: string;
      via: string;
      clockOffsetMs: number;
      pullId: string;
      now: number;
      contiguousThrough: number | null;
    }): number {
      return db.transaction(() => {
        const inserted = insertRecords(batch.records, batch);
        const first = batch.records[0];
        if (first && batch.contiguousThrough !== null) advanceContiguous.run(batch.contiguousThrough, batch.now, first.device_id, first.journal_id);
        return inserted;
      })();
    },
    storeLosses(lossRecords: readonly LossRecord[], site: string, now: number): number {
      return db.transaction(() => lossRecords.reduce((n, l) => n + insertLoss.run({ ...l, site, now }).changes, 0))();
    },
    countRecords(deviceId: string, journalId: string): number {
      return records.int(records.row(countHeld.get(deviceId, journalId)), 'n');
    },
    /** courier.status: records held of a journal, and how many of them wait to be forwarded (quarantined ones aside). */
    recordCounts(deviceId: string, journalId: string): { held: number; pending: number } {
      const row = records.row(selectRecordCounts.get(deviceId, journalId));
      return { held: records.int(row, 'held'), pending: records.intOrNull(row, 'pending') ?? 0 };
    },
    /** courier.status: loss records held of a journal, and how many records they say were lost. */
    lossCounts(deviceId: string, journalId: string): { losses: number; lost: number } {
      const row = losses.row(selectLossCounts.get(deviceId, journalId));
      return { losses: losses.int(row, 'losses'), lost: losses.int(row, 'lost') };
    },
    /** The highest seq held of a journal (0 if none). */
    maxHeldSeq(deviceId: string, journalId: string): number {
      return records.intOrNull(records.row(selectMaxHeld.get(deviceId, journalId)), 'm') ?? 0;
    },
    /** The highest seq a loss record of a journal covers (0 if none): one the laptop wrote for a failed device reaches past the last pull. */
    maxLostSeq(deviceId: string, journalId: string): number {
      return losses.intOrNull(losses.row(selectMaxLost.get(deviceId, journalId)), 'm') ?? 0;
    },
    /** What is held of [from, to] as runs of consecutive seqs in one state, in seq order. */
    heldRuns(deviceId: string, journalId: string, from: number, to: number): HeldRun[] {
      return selectHeldRuns.all(deviceId, journalId, from, to).map((raw) => {
        const row = records.row(raw);
        return { from: records.int(row, 'a'), to: records.int(row, 'b'), state: records.oneOf(row, 'st', heldStates) };
      });
    },
    /** Loss records that touch [from, to], by their first seq. */
    lossRanges(deviceId: string, journalId: string, from: number, to: number): { from_seq: number; to_seq: number; reason: string }[] {
      return selectLossRanges.all(deviceId, journalId, from, to).map((raw) => {
        const row = losses.row(raw);
        return { from_seq: losses.int(row, 'from_seq'), to_seq: losses.int(row, 'to_seq'), reason: losses.text(row, 'reason') };
      });
    },
  };
}

/** The pulls themselves: when each began and ended, and how many records it brought. */
function pullLog(db: Store) {
  const insertPull = db.prepare(`INSERT INTO courier_pulls (id, device_ref, device_id, started_ms, clock_offset_ms, round_trip_ms) VALUES (?, ?, ?, ?, ?, ?)`);
  const updatePull = db.prepare(`UPDATE courier_pulls SET ended_ms = ?, records = ? WHERE id = ?`);
  const selectLastPullEnd = db.prepare(`SELECT max(ended_ms) AS m FROM courier_pulls WHERE device_ref = ?`);
  return {
    startPull(pull: { id: string; deviceRef: string; deviceId: string; now: number; clockOffsetMs: number; roundTripMs: number }): void {
      insertPull.run(pull.id, pull.deviceRef, pull.deviceId, pull.now, Math.round(pull.clockOffsetMs), Math.round(pull.roundTripMs));
    },
    endPull(id: string, recordCount: number, now: number): void {
      updatePull.run(now, recordCount, id);
    },
    /** When a pull of this device (its ref) last finished; null if never. */
    lastPullEndedMs(deviceRef: string): number | null {
      return pulls.intOrNull(pulls.row(selectLastPullEnd.get(deviceRef)), 'm');
    },
  };
}

/**
 * One row as held, serialized as its batch sends it (`line`: TabSeparated for records,
 * JSONEachRow for loss records), with what marking and quarantine need (`preview`: the
 * row as JSON, for people to read).
 */
export type ForwardLine = { seq: number; to_seq: number; priority: number; line: string; preview: string };
export type PendingLoss = { device_id: string; journal_id: string; from_seq: number; to_seq: number; count: number; priority: number; reason: string; at_ms: number; site: string };
/** The next pending records of a journal: seq in (after, through], at most `limit`. */
export type PendingRecordsQuery = { device_id: string; journal_id: string; after: number; through: number; limit: number };

export type ForwardQueue = ReturnType<typeof createForwardQueue>;

/**
 * What the forward job reads and marks in the courier's tables: pending loss records and
 * records in key order (rows quarantined aside), and the forwarded marks. Prepared once
 * per forward; a batch of records is read as one TabSeparated string SQLite writes (no row
 * objects, no serializing per row in JS), row by row only when a batch has holes or must be split.
 */
export function createForwardQueue(db: Store) {
  const selectJournalKeys = db.prepare(`SELECT device_id, journal_id FROM courier_journals ORDER BY device_id, journal_id`);
  const selectLosses = db.prepare(
    `SELECT device_id, journal_id, from_seq, to_seq, count, priority, reason, at_ms, site FROM courier_losses
     WHERE device_id = ? AND journal_id = ? AND forwarded_ms IS NULL AND quarantine_state IS NULL ORDER BY from_seq, to_seq, priority LIMIT ?`,
  );
  const pendingRecords = `FROM courier_records WHERE device_id = @device_id AND journal_id = @journal_id AND seq > @after AND seq <= @through
    AND forwarded_ms IS NULL AND quarantine_state IS NULL ORDER BY seq LIMIT @limit`;
  const tsvLine = telemetryTabSeparatedLine();
  const jsonPreview = `json_object(${TELEMETRY_INSERT_COLUMNS.map((c) => `'${c}', ${c}`).join(', ')})`;
  // The body's rows in any order (no ORDER BY in string_agg: sorting 50k lines was a third of
  // the read): ClickHouse sorts each insert by the table key, so the part it writes is the
  // same; the subquery's ORDER BY seq LIMIT still decides which rows form the batch.
  const selectBatchBody = db.prepare(
    `SELECT count(*) AS n, min(seq) AS first, max(seq) AS last, string_agg(line, '') AS body FROM (SELECT seq, ${tsvLine} AS line ${pendingRecords})`,
  );
  const selectLines = db.prepare(`SELECT seq, seq AS to_seq, priority, ${tsvLine} AS line, ${jsonPreview} AS preview ${pendingRecords}`);
  // Where a journal's unforwarded rows begin (on the partial index): the scan starts there, not at seq 1.
  const selectFirstPending = db.prepare(`SELECT min(seq) AS seq FROM courier_records WHERE device_id = ? AND journal_id = ? AND forwarded_ms IS NULL`);
  const countUnforwarded = db.prepare(`SELECT count(*) AS n FROM courier_records WHERE forwarded_ms IS NULL`);
  const markRecords = db.prepare(`UPDATE courier_records SET forwarded_ms = ? WHERE device_id = ? AND journal_id = ? AND seq BETWEEN ? AND ? AND forwarded_ms IS NULL`);
  const markLoss = db.prepare(`UPDATE courier_losses SET forwarded_ms = ? WHERE device_id = ? AND journal_id = ? AND from_seq = ? AND to_seq = ? AND priority = ?`);
  const markJournal = db.prepare(`UPDATE courier_journals SET last_forward_ms = ? WHERE device_id = ? AND journal_id = ?`);

  return {
    /** Every journal a pull noted (a pull notes its journals before storing a record). */
    journals(): { device_id: string; journal_id: string }[] {
      return selectJournalKeys.all().map((raw) => {
        const row = journals.row(raw);
        return { device_id: journals.text(row, 'device_id'), journal_id: journals.text(row, 'journal_id') };
      });
    },
    /** Records not yet forwarded, quarantined ones included (counted on the partial index alone). */
    unforwardedRecords(): number {
      return records.int(records.row(countUnforwarded.get()), 'n');
    },
    pendingLosses(deviceId: string, journalId: string, limit: number): PendingLoss[] {
      return selectLosses.all(deviceId, journalId, limit).map((raw) => {
        const r = losses.row(raw);
        return {
          device_id: losses.text(r, 'device_id'),
          journal_id: losses.text(r, 'journal_id'),
          from_seq: losses.int(r, 'from_seq'),
          to_seq: losses.int(r, 'to_seq'),
          count: losses.int(r, 'count'),
          priority: losses.int(r, 'priority'),
          reason: losses.text(r, 'reason'),
          at_ms: losses.int(r, 'at_ms'),
          site: losses.text(r, 'site'),
        };
      });
    },
    firstPendingSeq(deviceId: string, journalId: string): number | null {
      return records.intOrNull(records.row(selectFirstPending.get(deviceId, journalId)), 'seq');
    },
    /** The next pending records as one TabSeparated body (TELEMETRY_INSERT_COLUMNS), with their count and first and last seq (null: none). */
    recordBatch(query: PendingRecordsQuery): { count: number; first: number; last: number; body: string } | null {
      const row = records.row(selectBatchBody.get({ ...query, journal_key: journalKeyField(query.device_id, query.journal_id) }));
      const count = records.int(row, 'n');
      const first = records.intOrNull(row, 'first');
      const last = records.intOrNull(row, 'last');
      if (count === 0 || first === null || last === null) return null;
      return { count, first, last, body: records.textOrNull(row, 'body') ?? '' };
    },
    /** The same rows one by one. */
    recordLines(query: PendingRecordsQuery): ForwardLine[] {
      return selectLines.all({ ...query, journal_key: journalKeyField(query.device_id, query.journal_id) }).map((raw) => {
        const row = records.row(raw);
        return { seq: records.int(row, 'seq'), to_seq: records.int(row, 'to_seq'), priority: records.int(row, 'priority'), line: records.text(row, 'line'), preview: records.text(row, 'preview') };
      });
    },
    /** Marks records confirmed in ClickHouse, by exact seq ranges, and when the journal last forwarded: one transaction. */
    markRecordsForwarded(deviceId: string, journalId: string, runs: readonly (readonly [number, number])[], now: number): void {
      db.transaction(() => {
        for (const [from, to] of runs) markRecords.run(now, deviceId, journalId, from, to);
        markJournal.run(now, deviceId, journalId);
      })();
    },
    markLossesForwarded(deviceId: string, journalId: string, landed: readonly Pick<ForwardLine, 'seq' | 'to_seq' | 'priority'>[], now: number): void {
      db.transaction(() => {
        for (const l of landed) markLoss.run(now, deviceId, journalId, l.seq, l.to_seq, l.priority);
      })();
    },
  };
}

export type QuarantineFlags = ReturnType<typeof createQuarantineFlags>;

/**
 * The quarantine_state column of records and loss records: the quarantine store sets it
 * in the transaction that records why, so a refused row stops counting as pending and
 * never blocks the rest.
 */
export function createQuarantineFlags(db: Store) {
  const flagRecord = db.prepare(`UPDATE courier_records SET quarantine_state = ? WHERE device_id = ? AND journal_id = ? AND seq = ?`);
  const flagLoss = db.prepare(`UPDATE courier_losses SET quarantine_state = ? WHERE device_id = ? AND journal_id = ? AND from_seq = ? AND to_seq = ? AND priority = ?`);
  return {
    flag(
      key: { kind: 'record' | 'loss'; device_id: string; journal_id: string; seq: number; to_seq: number; priority: number },
      state: 'quarantined' | 'discarded' | null,
    ): void {
      if (key.kind === 'record') flagRecord.run(state, key.device_id, key.journal_id, key.seq);
      else flagLoss.run(state, key.device_id, key.journal_id, key.seq, key.to_seq, key.priority);
    },
  };
}
