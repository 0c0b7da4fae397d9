/**
 * Migration 13: the steps of a replace that are done (issue 15), so a replace that was
 * killed and run again skips them: no second flash of the same drive, no second journal.
 * One row per step of one replace, keyed by the replace's key (device + where the spare is),
 * with the facts later steps need (the old journal's last seq, the new journal's id, the
 * host key the spare had), when the first run started (the RTO counts from there), and the
 * transcript of every run so far.
 *
 * Released: never edit, only append a new migration (see ../README.md).
 */
export const recoveryReplaceSteps = `CREATE TABLE recovery_replace_steps (
     replace_key TEXT NOT NULL,
     step TEXT NOT NULL,
     started_ms INTEGER NOT NULL,
     done_ms INTEGER NOT NULL,
     facts TEXT NOT NULL,
     PRIMARY KEY (replace_key, step)
   ) WITHOUT ROWID;
   CREATE TABLE recovery_replaces (
     replace_key TEXT PRIMARY KEY,
     device_ref TEXT NOT NULL,
     first_started_ms INTEGER NOT NULL,
     finished_ms INTEGER,
     -- every step each run recorded (JSON), so the runbook of a resumed replace has all commands
     transcript TEXT NOT NULL DEFAULT '[]'
   );`;
