/**
 * Migration 11: unchanged classes (issue 14, performance). `change_token` is the token the
 * snapshot's stream carried (the device's metadata fingerprint of the class, taken at stream
 * start); `unchanged` marks a row that took no new snapshot: the device's probe matched the
 * last good snapshot's token, so the row points at that snapshot, confirmed at `ended_ms`.
 *
 * Released: never edit, only append a new migration (see ../README.md).
 */
export const backupUnchanged = `ALTER TABLE backup_runs ADD COLUMN change_token TEXT;
   ALTER TABLE backup_runs ADD COLUMN unchanged INTEGER NOT NULL DEFAULT 0 CHECK (unchanged IN (0, 1));`;
