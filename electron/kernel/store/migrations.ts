/**
 * Schema history of the laptop store. Append only: a released migration is never
 * edited, so every laptop in the field reaches the same schema by the same steps.
 */
export const migrations: readonly string[] = [
  // 1: job history
  `CREATE TABLE jobs (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     title TEXT NOT NULL,
     params TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed', 'cancelled')),
     progress TEXT,
     created_at INTEGER NOT NULL,
     ended_at INTEGER,
     result TEXT,
     error TEXT,
     -- the process that runs it: a job whose owner is gone was interrupted
     owner_pid INTEGER
   );
   CREATE INDEX jobs_by_created ON jobs (created_at DESC);
   CREATE TABLE job_log (
     job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
     at INTEGER NOT NULL,
     level TEXT NOT NULL,
     message TEXT NOT NULL
   );
   CREATE INDEX job_log_by_job ON job_log (job_id, at);`,
  // 2: devices and how to reach them
  `CREATE TABLE devices (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     site TEXT NOT NULL DEFAULT '',
     link TEXT NOT NULL,
     link_key TEXT NOT NULL UNIQUE,
     host_key_fingerprint TEXT,
     agent_device_id TEXT,
     journal_id TEXT,
     agent_version TEXT,
     model_version TEXT,
     clock_offset_ms INTEGER,
     last_seen_ms INTEGER,
     last_error TEXT,
     added_ms INTEGER NOT NULL
   );`,
  // 3: the courier: journals carried from devices, losses, custody state, health history
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
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
   ) WITHOUT ROWID;`,
  // 4: forwarding to ClickHouse: rows the server refused (the row stays where it is,
  // flagged, so a retry only clears the flag), and when each journal last forwarded
  `ALTER TABLE courier_records ADD COLUMN quarantine_state TEXT CHECK (quarantine_state IN ('quarantined', 'discarded'));
   ALTER TABLE courier_losses ADD COLUMN quarantine_state TEXT CHECK (quarantine_state IN ('quarantined', 'discarded'));
   ALTER TABLE courier_journals ADD COLUMN last_forward_ms INTEGER;
   CREATE INDEX courier_losses_pending ON courier_losses (device_id, journal_id, from_seq) WHERE forwarded_ms IS NULL;
   CREATE TABLE courier_quarantine (
     id INTEGER PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('record', 'loss')),
     device_id TEXT NOT NULL,
     journal_id TEXT NOT NULL,
     -- a record's seq, or a loss record's range and priority (its key in courier_losses)
     seq INTEGER NOT NULL,
     to_seq INTEGER NOT NULL,
     priority INTEGER NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('quarantined', 'requeued', 'discarded')),
     -- what the server said when it refused the row on its own
     reason TEXT NOT NULL,
     server_code TEXT,
     preview TEXT NOT NULL,
     attempts INTEGER NOT NULL,
     quarantined_ms INTEGER NOT NULL,
     last_attempt_ms INTEGER NOT NULL,
     discarded_ms INTEGER,
     discard_reason TEXT,
     UNIQUE (kind, device_id, journal_id, seq, to_seq, priority)
   );
   CREATE INDEX courier_quarantine_by_journal ON courier_quarantine (device_id, journal_id, seq);`,
  // 5: image signing keys the technician trusts (revoked keys stay, with why, so a
  // revoked key is refused by name and cannot be quietly imported again), and the
  // unsigned-image policy, off until someone turns it on
  `CREATE TABLE trusted_keys (
     key_id TEXT PRIMARY KEY,
     public_key TEXT NOT NULL,
     label TEXT NOT NULL,
     added_ms INTEGER NOT NULL,
     revoked_ms INTEGER,
     revoked_reason TEXT
   );
   INSERT INTO meta (key, value) VALUES ('settings.flash', '{"allowUnsigned":false}') ON CONFLICT (key) DO NOTHING;`,
  // 6: images the technician inspected or flashed, offered first by the Flash screen's picker
  `CREATE TABLE recent_images (
     path TEXT PRIMARY KEY,
     used_ms INTEGER NOT NULL
   );`,
  // 7: rollouts of signed bundles in batches: each device's outcome and the transcript of
  // every command, written as each device progresses, so a rollout stopped halfway (cancel,
  // a killed app) resumes after a restart with the same plan
  `CREATE TABLE rollouts (
     id TEXT PRIMARY KEY,
     bundle_path TEXT NOT NULL,
     bundle_kind TEXT NOT NULL,
     version TEXT NOT NULL,
     batches TEXT NOT NULL,
     max_failure_percent REAL NOT NULL,
     order_mode TEXT NOT NULL,
     -- the shuffle's seed, kept so the plan can be recomputed and audited
     seed INTEGER NOT NULL,
     stable_seconds INTEGER NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('running', 'stopped', 'completed', 'cancelled')),
     stop_reason TEXT,
     job_id TEXT,
     created_ms INTEGER NOT NULL,
     updated_ms INTEGER NOT NULL
   );
   CREATE INDEX rollouts_by_created ON rollouts (created_ms DESC);
   CREATE TABLE rollout_devices (
     rollout_id TEXT NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
     device_id TEXT NOT NULL,
     device_name TEXT NOT NULL,
     position INTEGER NOT NULL,
     batch INTEGER NOT NULL,
     status TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     from_version TEXT,
     to_version TEXT NOT NULL,
     gate_failed TEXT,
     error TEXT,
     unit_log TEXT NOT NULL DEFAULT '[]',
     bytes_sent INTEGER NOT NULL DEFAULT 0,
     started_ms INTEGER,
     ended_ms INTEGER,
     PRIMARY KEY (rollout_id, device_id)
   );
   CREATE TABLE rollout_transcript (
     rollout_id TEXT NOT NULL,
     device_id TEXT NOT NULL,
     entry TEXT NOT NULL,
     FOREIGN KEY (rollout_id, device_id) REFERENCES rollout_devices (rollout_id, device_id) ON DELETE CASCADE
   );
   CREATE INDEX rollout_transcript_by_device ON rollout_transcript (rollout_id, device_id);`,
  // 8: health history forwarded to ClickHouse: when each pulled minute and event was
  // confirmed there (a minute pulled again, after it filled up, is replaced and so sent again)
  `ALTER TABLE courier_health_minutes ADD COLUMN forwarded_ms INTEGER;
   ALTER TABLE courier_health_events ADD COLUMN forwarded_ms INTEGER;
   CREATE INDEX courier_health_minutes_pending ON courier_health_minutes (device_id, minute_ms) WHERE forwarded_ms IS NULL;
   CREATE INDEX courier_health_events_pending ON courier_health_events (device_id, at_ms, kind) WHERE forwarded_ms IS NULL;`,
];
