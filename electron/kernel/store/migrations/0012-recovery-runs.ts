/**
 * Migration 12: recovery runs (issue 15): every restore, drill and replace — which device,
 * onto which target, from which restore point, how it ended, its RTO and RPO, the full
 * result (steps, commands, timings) and where its runbook was written. Drill freshness
 * (the `drill-stale` alert) reads the drills.
 *
 * Released: never edit, only append a new migration (see ../README.md).
 */
export const recoveryRuns = `CREATE TABLE recovery_runs (
     id INTEGER PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('restore', 'drill', 'replace')),
     job_id TEXT,
     device_ref TEXT NOT NULL,
     device_name TEXT NOT NULL,
     target_ref TEXT NOT NULL,
     target_name TEXT NOT NULL,
     point_id TEXT,
     started_ms INTEGER NOT NULL,
     ended_ms INTEGER NOT NULL,
     ok INTEGER NOT NULL,
     rto_ms INTEGER,
     rpo_age_s INTEGER,
     error TEXT,
     result TEXT,
     runbook_path TEXT
   );
   CREATE INDEX recovery_runs_device ON recovery_runs (device_ref, kind, ended_ms);`;
