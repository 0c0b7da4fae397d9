/**
 * Migration 10: backup runs (issue 14): one row per device × class a backup job finished —
 * 'good' only after restic reported the snapshot (its id), 'failed' with the error. What
 * freshness, `backup list` and a resumed run read.
 *
 * Released: never edit, only append a new migration (see ../README.md).
 */
export const backupRuns = `CREATE TABLE backup_runs (
     id INTEGER PRIMARY KEY,
     job_id TEXT NOT NULL,
     device_ref TEXT NOT NULL,
     device_id TEXT NOT NULL,
     device_name TEXT NOT NULL,
     site TEXT,
     class TEXT NOT NULL CHECK (class IN ('config', 'state', 'data', 'secrets')),
     outcome TEXT NOT NULL CHECK (outcome IN ('good', 'failed')),
     snapshot_id TEXT,
     repo_role TEXT NOT NULL,
     repo_kind TEXT NOT NULL,
     repo_location TEXT NOT NULL,
     started_ms INTEGER NOT NULL,
     ended_ms INTEGER NOT NULL,
     stream_bytes INTEGER NOT NULL DEFAULT 0,
     bytes_added INTEGER NOT NULL DEFAULT 0,
     files INTEGER NOT NULL DEFAULT 0,
     file_bytes INTEGER NOT NULL DEFAULT 0,
     agent_version TEXT,
     image_version TEXT,
     model_version TEXT,
     journal_last_seq INTEGER,
     missing TEXT NOT NULL DEFAULT '[]',
     error TEXT,
     CHECK ((outcome = 'good') = (snapshot_id IS NOT NULL))
   );
   CREATE INDEX backup_runs_device_class ON backup_runs (device_ref, class, outcome, ended_ms);
   CREATE INDEX backup_runs_agent_device ON backup_runs (device_id, class, outcome, ended_ms);`;
