/**
 * Migration 5: image signing keys the technician trusts (revoked keys stay, with why, so a
 * revoked key is refused by name and cannot be quietly imported again), and the
 * unsigned-image policy, off until someone turns it on
 *
 * Released: never edit, only append a new migration (see ../README.md).
 */
export const trustedKeys = `CREATE TABLE trusted_keys (
     key_id TEXT PRIMARY KEY,
     public_key TEXT NOT NULL,
     label TEXT NOT NULL,
     added_ms INTEGER NOT NULL,
     revoked_ms INTEGER,
     revoked_reason TEXT
   );
   INSERT INTO meta (key, value) VALUES ('settings.flash', '{"allowUnsigned":false}') ON CONFLICT (key) DO NOTHING;`;
