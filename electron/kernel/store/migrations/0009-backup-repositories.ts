/**
 * Migration 9: backup repositories (issue 14): the restic repositories this laptop created
 * (laptop, site drive, off-site; main and secrets each), which of the laptop's snapshots
 * each copy holds, and the verification history.
 *
 * Released: never edit, only append a new migration (see ../README.md).
 */
export const backupRepositories = `CREATE TABLE backup_repositories (
     role TEXT NOT NULL CHECK (role IN ('laptop', 'site', 'offsite')),
     kind TEXT NOT NULL CHECK (kind IN ('main', 'secrets')),
     location TEXT NOT NULL,
     created_ms INTEGER NOT NULL,
     recovery_key_shown INTEGER NOT NULL DEFAULT 0,
     next_subset INTEGER NOT NULL DEFAULT 1,
     last_verified_ms INTEGER,
     last_verify_ok INTEGER,
     last_copy_ms INTEGER,
     PRIMARY KEY (role, kind, location)
   );
   CREATE TABLE backup_copies (
     role TEXT NOT NULL,
     kind TEXT NOT NULL,
     location TEXT NOT NULL,
     original_id TEXT NOT NULL,
     copy_id TEXT NOT NULL,
     recorded_ms INTEGER NOT NULL,
     PRIMARY KEY (role, kind, location, original_id)
   );
   CREATE TABLE backup_verifications (
     id INTEGER PRIMARY KEY,
     at_ms INTEGER NOT NULL,
     role TEXT NOT NULL,
     kind TEXT NOT NULL,
     location TEXT NOT NULL,
     ok INTEGER NOT NULL,
     entry TEXT NOT NULL
   );
   CREATE INDEX backup_verifications_repo ON backup_verifications (role, kind, at_ms);`;
