/**
 * Schema history of the journal database. Append only: a released migration is never
 * edited, so every Pi in the field reaches the same schema by the same steps. The schema
 * version is SQLite's `user_version`, bumped in the same transaction as each step.
 *
 * Migrations are additive (new tables, new columns with defaults, new indexes) so that an
 * older agent keeps working on a journal a newer one migrated: a deploy that fails its
 * health gate goes back to the previous release, and that release must open the journal
 * the failed one already upgraded, without losing what either wrote. The journal records
 * which agents may still use it in `journal_compat.readable_by` (the lowest number of
 * migrations an agent must know); an agent that knows fewer than the file's schema but at
 * least `readable_by` uses it as it is. A migration that is not additive must raise
 * `journalReadableBy` to its own number — and then a rollback past it is refused by the
 * older agent (it says so) instead of corrupting anything.
 */
export const journalMigrations: readonly string[] = [
  // 1: records, identity and counters, custody, losses
  `CREATE TABLE meta (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     device_id TEXT NOT NULL,
     -- random 128-bit hex made with the database: a replaced SD card never reuses keys
     journal_id TEXT NOT NULL,
     created_ms INTEGER NOT NULL,
     -- highest seq ever assigned; kept here (not max(seq)) so a dropped tail is never reused
     last_seq INTEGER NOT NULL DEFAULT 0,
     -- running totals for the disk budget, updated in the transaction that changes records
     stored_records INTEGER NOT NULL DEFAULT 0,
     stored_bytes INTEGER NOT NULL DEFAULT 0,
     forwarded_seq INTEGER NOT NULL DEFAULT 0,
     forwarded_by TEXT NOT NULL DEFAULT '',
     forwarded_ms INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE records (
     seq INTEGER PRIMARY KEY,
     ts_ms INTEGER NOT NULL,
     recv_ms INTEGER NOT NULL,
     priority INTEGER NOT NULL CHECK (priority IN (1, 2, 3)),
     kind TEXT NOT NULL,
     model_version TEXT NOT NULL,
     payload TEXT NOT NULL,
     -- bytes this row counts against the budget (see rowBytes)
     size INTEGER NOT NULL
   );
   -- retention walks one priority oldest first
   CREATE INDEX records_by_priority ON records (priority, seq);
   CREATE TABLE custody (
     courier_id TEXT PRIMARY KEY,
     through_seq INTEGER NOT NULL,
     at_ms INTEGER NOT NULL
   );
   CREATE TABLE losses (
     id INTEGER PRIMARY KEY,
     from_seq INTEGER NOT NULL,
     to_seq INTEGER NOT NULL,
     count INTEGER NOT NULL,
     priority INTEGER NOT NULL,
     reason TEXT NOT NULL,
     at_ms INTEGER NOT NULL
   );
   CREATE INDEX losses_by_to_seq ON losses (to_seq);`,
  // 2: which agents may open this journal (see above)
  `CREATE TABLE journal_compat (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     readable_by INTEGER NOT NULL
   );`,
];

/** The lowest number of migrations an agent must know to use a journal at the newest schema. */
export const journalReadableBy = 1;
