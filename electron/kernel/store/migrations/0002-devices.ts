/**
 * Migration 2: devices and how to reach them
 *
 * Released: never edit, only append a new migration (see ../README.md).
 */
export const devices = `CREATE TABLE devices (
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
   );`;
