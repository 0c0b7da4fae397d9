/**
 * Migration 1: job history
 *
 * Released: never edit, only append a new migration (see ../README.md).
 */
export const jobHistory = `CREATE TABLE jobs (
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
   CREATE INDEX job_log_by_job ON job_log (job_id, at);`;
