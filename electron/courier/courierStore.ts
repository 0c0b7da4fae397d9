/**
 * What the courier holds on this laptop: records pulled from devices (keyed like
 * ClickHouse, so a record pulled twice is stored once), their loss records, custody
 * state per journal, and pulled health history. Every write is one transaction.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { HealthEvent, HealthMinute } from '../../shared/health.ts';
import type { JournalRecord, LossRecord } from '../../shared/journal.ts';
import type { Store } from '../kernel/store/openStore.ts';

export type JournalState = {
  device_id: string;
  journal_id: string;
  device_ref: string | null;
  site: string;
  contiguous_seq: number;
  agent_last_seq: number;
  agent_first_seq: number;
  custody_acked_seq: number;
  forwarded_reported_seq: number;
  last_pull_ms: number;
  last_clock_offset_ms: number | null;
};

export type CourierStore = ReturnType<typeof createCourierStore>;

export function createCourierStore(db: Store) {
  const insertRecord = db.prepare(
    `INSERT OR IGNORE INTO courier_records (device_id, journal_id, seq, ts_ms, recv_ms, priority, kind, model_version, payload, site, via, clock_offset_ms, pull_id, pulled_ms)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const upsertJournal = db.prepare(
    `INSERT INTO courier_journals (device_id, journal_id, device_ref, site, first_pull_ms, last_pull_ms, contiguous_seq, agent_last_seq, agent_first_seq, last_clock_offset_ms)
     VALUES (@device_id, @journal_id, @device_ref, @site, @now, @now, 0, @agent_last_seq, @agent_first_seq, @clock_offset_ms)
     ON CONFLICT (device_id, journal_id) DO UPDATE SET
       device_ref = excluded.device_ref, site = excluded.site, last_pull_ms = excluded.last_pull_ms,
       agent_last_seq = excluded.agent_last_seq, agent_first_seq = excluded.agent_first_seq,
       last_clock_offset_ms = excluded.last_clock_offset_ms`,
  );
  const advanceContiguous = db.prepare(
    `UPDATE courier_journals SET contiguous_seq = max(contiguous_seq, ?), last_pull_ms = ? WHERE device_id = ? AND journal_id = ?`,
  );
  const selectJournal = db.prepare(`SELECT * FROM courier_journals WHERE device_id = ? AND journal_id = ?`);

  return {
    /** This laptop's courier id, made once: custody on the device is kept per courier. */
    courierId(): string {
      const row = db.prepare(`SELECT value FROM meta WHERE key = 'courier_id'`).get() as { value: string } | undefined;
      if (row) return row.value;
      const id = `laptop:${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 40)}-${randomBytes(4).toString('hex')}`;
      db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES ('courier_id', ?)`).run(id);
      return (db.prepare(`SELECT value FROM meta WHERE key = 'courier_id'`).get() as { value: string }).value;
    },
    journal(deviceId: string, journalId: string): JournalState | null {
      return (selectJournal.get(deviceId, journalId) as JournalState | undefined) ?? null;
    },
    journals(): JournalState[] {
      return db.prepare(`SELECT * FROM courier_journals ORDER BY device_id, first_pull_ms`).all() as JournalState[];
    },
    /** Records what the agent says about a journal at the start of a pull. */
    noteJournal(j: { device_id: string; journal_id: string; device_ref: string | null; site: string; agent_last_seq: number; agent_first_seq: number; clock_offset_ms: number; now: number }): JournalState {
      upsertJournal.run({ ...j, clock_offset_ms: Math.round(j.clock_offset_ms) });
      const state = selectJournal.get(j.device_id, j.journal_id) as JournalState;
      return state;
    },
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
        let inserted = 0;
        const offset = Math.round(batch.clockOffsetMs);
        // Positional parameters: the hot loop of a pull (hundreds of thousands of rows).
        for (const r of batch.records) {
          inserted += insertRecord.run(r.device_id, r.journal_id, r.seq, r.ts_ms, r.recv_ms, r.priority, r.kind, r.model_version, r.payload, batch.site, batch.via, offset, batch.pullId, batch.now).changes;
        }
        const first = batch.records[0];
        if (first && batch.contiguousThrough !== null) advanceContiguous.run(batch.contiguousThrough, batch.now, first.device_id, first.journal_id);
        return inserted;
      })();
    },
    storeLosses(losses: readonly LossRecord[], site: string, now: number): number {
      const insert = db.prepare(
        `INSERT OR IGNORE INTO courier_losses (device_id, journal_id, from_seq, to_seq, count, priority, reason, at_ms, site, pulled_ms)
         VALUES (@device_id, @journal_id, @from_seq, @to_seq, @count, @priority, @reason, @at_ms, @site, @now)`,
      );
      return db.transaction(() => losses.reduce((n, l) => n + insert.run({ ...l, site, now }).changes, 0))();
    },
    /**
     * The agent's head as it answered at the end of a pull: what reconcile may call
     * complete is measured against this, and the time it was heard is the pull's end.
     * The forwarded mark is the device's own (this laptop's reports, another courier's,
     * the uplink's), which a later health sample's backlog counts from.
     */
    noteHead(deviceId: string, journalId: string, head: { last_seq: number; first_seq: number; forwarded_seq: number }, now: number): void {
      db.prepare(
        `UPDATE courier_journals SET agent_last_seq = max(?, contiguous_seq), agent_first_seq = ?, forwarded_reported_seq = max(forwarded_reported_seq, ?), last_pull_ms = ?
         WHERE device_id = ? AND journal_id = ?`,
      ).run(head.last_seq, head.first_seq, head.forwarded_seq, now, deviceId, journalId);
    },
    markCustodyAcked(deviceId: string, journalId: string, seq: number): void {
      db.prepare(`UPDATE courier_journals SET custody_acked_seq = max(custody_acked_seq, ?) WHERE device_id = ? AND journal_id = ?`).run(seq, deviceId, journalId);
    },
    markForwardReported(deviceId: string, journalId: string, seq: number): void {
      db.prepare(`UPDATE courier_journals SET forwarded_reported_seq = max(forwarded_reported_seq, ?) WHERE device_id = ? AND journal_id = ?`).run(seq, deviceId, journalId);
    },
    /**
     * The highest seq through which everything this laptop holds of the journal is
     * confirmed in ClickHouse (and no further than what it holds contiguously).
     */
    forwardedThrough(deviceId: string, journalId: string): number {
      const state = selectJournal.get(deviceId, journalId) as JournalState | undefined;
      if (!state) return 0;
      const pending = db
        // A row the technician discarded (refused by ClickHouse, given up with a reason) no longer holds the mark back.
        .prepare(`SELECT min(seq) AS seq FROM courier_records WHERE device_id = ? AND journal_id = ? AND forwarded_ms IS NULL AND quarantine_state IS NOT 'discarded'`)
        .get(deviceId, journalId) as { seq: number | null };
      return pending.seq === null ? state.contiguous_seq : Math.min(state.contiguous_seq, pending.seq - 1);
    },
    storeHealthHistory(deviceId: string, minutes: readonly HealthMinute[], events: readonly HealthEvent[]): void {
      const m = db.prepare(`INSERT OR REPLACE INTO courier_health_minutes (device_id, minute_ms, minute) VALUES (?, ?, ?)`);
      const e = db.prepare(`INSERT OR IGNORE INTO courier_health_events (device_id, at_ms, kind, detail) VALUES (?, ?, ?, ?)`);
      db.transaction(() => {
        for (const minute of minutes) m.run(deviceId, minute.minute_ms, JSON.stringify(minute));
        for (const event of events) e.run(deviceId, event.at_ms, event.kind, event.detail);
      })();
    },
    /** Pulled health history of one device (agent device id), oldest first: at most the newest `limit` minutes and events. */
    readHealthHistory(deviceId: string, sinceMs: number, limit: number): { minutes: HealthMinute[]; events: HealthEvent[] } {
      const minutes = db
        .prepare(`SELECT minute FROM (SELECT minute, minute_ms FROM courier_health_minutes WHERE device_id = ? AND minute_ms >= ? ORDER BY minute_ms DESC LIMIT ?) ORDER BY minute_ms`)
        .all(deviceId, sinceMs, limit) as { minute: string }[];
      const events = db
        .prepare(`SELECT at_ms, kind, detail FROM (SELECT * FROM courier_health_events WHERE device_id = ? AND at_ms >= ? ORDER BY at_ms DESC LIMIT ?) ORDER BY at_ms, kind`)
        .all(deviceId, sinceMs, limit) as HealthEvent[];
      return { minutes: minutes.map((m) => JSON.parse(m.minute) as HealthMinute), events };
    },
    /** When a pull of this device (its ref) last finished; null if never. */
    lastPullEndedMs(deviceRef: string): number | null {
      const row = db.prepare(`SELECT max(ended_ms) AS m FROM courier_pulls WHERE device_ref = ?`).get(deviceRef) as { m: number | null };
      return row.m;
    },
    lastHealthMinute(deviceId: string): number {
      const row = db.prepare(`SELECT max(minute_ms) AS m FROM courier_health_minutes WHERE device_id = ?`).get(deviceId) as { m: number | null };
      return row.m ?? 0;
    },
    startPull(pull: { id: string; deviceRef: string; deviceId: string; now: number; clockOffsetMs: number; roundTripMs: number }): void {
      db.prepare(`INSERT INTO courier_pulls (id, device_ref, device_id, started_ms, clock_offset_ms, round_trip_ms) VALUES (?, ?, ?, ?, ?, ?)`).run(
        pull.id,
        pull.deviceRef,
        pull.deviceId,
        pull.now,
        Math.round(pull.clockOffsetMs),
        Math.round(pull.roundTripMs),
      );
    },
    endPull(id: string, records: number, now: number): void {
      db.prepare(`UPDATE courier_pulls SET ended_ms = ?, records = ? WHERE id = ?`).run(now, records, id);
    },
    countRecords(deviceId: string, journalId: string): number {
      return (db.prepare(`SELECT count(*) AS n FROM courier_records WHERE device_id = ? AND journal_id = ?`).get(deviceId, journalId) as { n: number }).n;
    },
  };
}
