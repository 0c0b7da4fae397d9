/**
 * Migration 3: the courier: journals carried from devices, losses, custody state, health history
 *
 * Released: never edit, only append a new migration (see ../README.md).
 */
export const courier = `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE courier_journals (
     device_id TEXT NOT NULL,
     journal_id TEXT NOT NULL,
     device_ref TEXT,
     site TEXT NOT NULL DEFAULT '',
     first_pull_ms INTEGER NOT NULL,
     last_pull_ms INTEGER NOT NULL,
     -- every seq up to here is held here or explained by a loss record
     contiguous_seq INTEGER NOT NULL DEFAULT 0,
     agent_last_seq INTEGER NOT NULL DEFAULT 0,
     agent_first_seq INTEGER NOT NULL DEFAULT 0,
     custody_acked_seq INTEGER NOT NULL DEFAULT 0,
     -- what the agent was last told is confirmed in ClickHouse
     forwarded_reported_seq INTEGER NOT NULL DEFAULT 0,
     last_clock_offset_ms INTEGER,
     PRIMARY KEY (device_id, journal_id)
   );
   CREATE TABLE courier_records (
     device_id TEXT NOT NULL,
     journal_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     ts_ms INTEGER NOT NULL,
     recv_ms INTEGER NOT NULL,
     priority INTEGER NOT NULL,
     kind TEXT NOT NULL,
     model_version TEXT NOT NULL,
     payload TEXT NOT NULL,
     site TEXT NOT NULL,
     via TEXT NOT NULL,
     clock_offset_ms INTEGER NOT NULL,
     pull_id TEXT NOT NULL,
     pulled_ms INTEGER NOT NULL,
     forwarded_ms INTEGER,
     PRIMARY KEY (device_id, journal_id, seq)
   ) WITHOUT ROWID;
   CREATE INDEX courier_records_pending ON courier_records (device_id, journal_id, seq) WHERE forwarded_ms IS NULL;
   CREATE TABLE courier_losses (
     device_id TEXT NOT NULL,
     journal_id TEXT NOT NULL,
     from_seq INTEGER NOT NULL,
     to_seq INTEGER NOT NULL,
     count INTEGER NOT NULL,
     priority INTEGER NOT NULL,
     reason TEXT NOT NULL,
     at_ms INTEGER NOT NULL,
     site TEXT NOT NULL,
     pulled_ms INTEGER NOT NULL,
     forwarded_ms INTEGER,
     PRIMARY KEY (device_id, journal_id, from_seq, to_seq, priority)
   ) WITHOUT ROWID;
   CREATE TABLE courier_pulls (
     id TEXT PRIMARY KEY,
     device_ref TEXT,
     device_id TEXT,
     started_ms INTEGER NOT NULL,
     ended_ms INTEGER,
     records INTEGER NOT NULL DEFAULT 0,
     clock_offset_ms INTEGER,
     round_trip_ms INTEGER
   );
   CREATE TABLE courier_health_minutes (
     device_id TEXT NOT NULL,
     minute_ms INTEGER NOT NULL,
     minute TEXT NOT NULL,
     PRIMARY KEY (device_id, minute_ms)
   ) WITHOUT ROWID;
   CREATE TABLE courier_health_events (
     device_id TEXT NOT NULL,
     at_ms INTEGER NOT NULL,
     kind TEXT NOT NULL,
     detail TEXT NOT NULL,
     PRIMARY KEY (device_id, at_ms, kind)
   ) WITHOUT ROWID;`;
