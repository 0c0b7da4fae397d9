/**
 * Per-minute health history and notable events, in `health.db` beside the journal (never
 * inside it: health must not compete with telemetry for the journal's disk budget or its
 * write lock).
 *
 * Durability: WAL with synchronous=NORMAL. A power cut may lose the last minute or two of
 * history, never corrupt the file; that is the right trade for diagnostics that are
 * re-measured every second, and it spares the eMMC/SD an fsync per minute. The journal,
 * which holds acknowledged events, uses FULL; this file holds nothing anyone was promised.
 *
 * One writer (the daemon's sampler loop); any process may read.
 */
import { existsSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import type { HealthEvent, HealthMinute } from '../../shared/health.ts';
import { HealthEventSchema } from '../../shared/health.ts';

export const HEALTH_DB_FILE = 'health.db';

/** Fourteen days of minutes: ~20k small rows, well under a megabyte. */
export const MINUTES_KEPT_MS = 14 * 24 * 60 * 60 * 1000;
/** Events are rarer and worth longer; the count cap stops a flapping sensor from growing the file. */
export const EVENTS_KEPT_MS = 90 * 24 * 60 * 60 * 1000;
export const EVENTS_KEPT_MAX = 10_000;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS minutes (
    minute_ms INTEGER PRIMARY KEY,
    cpu_pct_avg REAL,
    temp_c_max REAL,
    mem_available_min_bytes REAL,
    disk_free_min_bytes REAL,
    throttled_raw_or INTEGER,
    backlog_records_max INTEGER NOT NULL,
    inference_p95_ms REAL
  ) STRICT;
  CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
  ) STRICT;
  CREATE INDEX IF NOT EXISTS events_at ON events (at_ms);
`;

export type HealthHistoryWriter = {
  writeMinute(minute: HealthMinute): void;
  addEvent(event: HealthEvent): void;
  /** Drops what is older than the retention windows. */
  prune(nowMs: number): void;
  close(): void;
};

/** Opens (creating if needed) the history for writing. Only the daemon's sampler calls this. */
export function openHealthHistoryWriter(path: string): HealthHistoryWriter {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 2000;');
  db.exec(SCHEMA);
  const upsertMinute = db.prepare(`
    INSERT INTO minutes (minute_ms, cpu_pct_avg, temp_c_max, mem_available_min_bytes, disk_free_min_bytes,
                         throttled_raw_or, backlog_records_max, inference_p95_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (minute_ms) DO UPDATE SET
      cpu_pct_avg = excluded.cpu_pct_avg, temp_c_max = excluded.temp_c_max,
      mem_available_min_bytes = excluded.mem_available_min_bytes, disk_free_min_bytes = excluded.disk_free_min_bytes,
      throttled_raw_or = excluded.throttled_raw_or, backlog_records_max = excluded.backlog_records_max,
      inference_p95_ms = excluded.inference_p95_ms`);
  const insertEvent = db.prepare('INSERT INTO events (at_ms, kind, detail) VALUES (?, ?, ?)');
  const pruneMinutes = db.prepare('DELETE FROM minutes WHERE minute_ms < ?');
  const pruneEventsByAge = db.prepare('DELETE FROM events WHERE at_ms < ?');
  const pruneEventsByCount = db.prepare('DELETE FROM events WHERE id <= (SELECT max(id) FROM events) - ?');
  return {
    writeMinute(m) {
      upsertMinute.run(m.minute_ms, m.cpu_pct_avg, m.temp_c_max, m.mem_available_min_bytes, m.disk_free_min_bytes,
        m.throttled_raw_or, m.backlog_records_max, m.inference_p95_ms);
    },
    addEvent(e) {
      insertEvent.run(e.at_ms, e.kind, e.detail);
    },
    prune(nowMs) {
      pruneMinutes.run(nowMs - MINUTES_KEPT_MS);
      pruneEventsByAge.run(nowMs - EVENTS_KEPT_MS);
      pruneEventsByCount.run(EVENTS_KEPT_MAX);
    },
    close() {
      db.close();
    },
  };
}

/**
 * Reads history since `sinceMs` from any process. A missing file (the daemon has not run
 * yet) is an empty history, not an error; the reader never creates the file.
 */
export function readHealthHistory(path: string, sinceMs: number): { minutes: HealthMinute[]; events: HealthEvent[] } {
  if (!existsSync(path)) return { minutes: [], events: [] };
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    db.exec('PRAGMA busy_timeout = 2000;');
    const minutes = db
      .prepare(`SELECT minute_ms, cpu_pct_avg, temp_c_max, mem_available_min_bytes, disk_free_min_bytes,
                       throttled_raw_or, backlog_records_max, inference_p95_ms
                FROM minutes WHERE minute_ms >= ? ORDER BY minute_ms`)
      .all(minuteOf(sinceMs))
      .map((row) => ({
        minute_ms: Number(row.minute_ms),
        cpu_pct_avg: nullableNumber(row.cpu_pct_avg),
        temp_c_max: nullableNumber(row.temp_c_max),
        mem_available_min_bytes: nullableNumber(row.mem_available_min_bytes),
        disk_free_min_bytes: nullableNumber(row.disk_free_min_bytes),
        throttled_raw_or: nullableNumber(row.throttled_raw_or),
        backlog_records_max: Number(row.backlog_records_max),
        inference_p95_ms: nullableNumber(row.inference_p95_ms),
      }));
    const events = db
      .prepare('SELECT at_ms, kind, detail FROM events WHERE at_ms >= ? ORDER BY at_ms, id')
      .all(sinceMs)
      .map((row) => HealthEventSchema.parse({ at_ms: Number(row.at_ms), kind: row.kind, detail: row.detail }));
    return { minutes, events };
  } finally {
    db.close();
  }
}

export function minuteOf(ms: number): number {
  return Math.floor(ms / 60_000) * 60_000;
}

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}
