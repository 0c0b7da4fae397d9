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
];
