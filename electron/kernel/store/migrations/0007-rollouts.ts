/**
 * Migration 7: rollouts of signed bundles in batches: each device's outcome and the transcript of
 * every command, written as each device progresses, so a rollout stopped halfway (cancel,
 * a killed app) resumes after a restart with the same plan
 *
 * Released: never edit, only append a new migration (see ../README.md).
 */
export const rollouts = `CREATE TABLE rollouts (
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
   CREATE INDEX rollout_transcript_by_device ON rollout_transcript (rollout_id, device_id);`;
