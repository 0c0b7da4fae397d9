/**
 * Migration 4: forwarding to ClickHouse: rows the server refused (the row stays where it is,
 * flagged, so a retry only clears the flag), and when each journal last forwarded
 *
 * Released: never edit, only append a new migration (see ../README.md).
 */
export const forwardQuarantine = `ALTER TABLE courier_records ADD COLUMN quarantine_state TEXT CHECK (quarantine_state IN ('quarantined', 'discarded'));
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
   CREATE INDEX courier_quarantine_by_journal ON courier_quarantine (device_id, journal_id, seq);`;
