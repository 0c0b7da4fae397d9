/**
 * Migration 8: health history forwarded to ClickHouse: when each pulled minute and event was
 * confirmed there (a minute pulled again, after it filled up, is replaced and so sent again)
 *
 * Released: never edit, only append a new migration (see ../README.md).
 */
export const healthForwarded = `ALTER TABLE courier_health_minutes ADD COLUMN forwarded_ms INTEGER;
   ALTER TABLE courier_health_events ADD COLUMN forwarded_ms INTEGER;
   CREATE INDEX courier_health_minutes_pending ON courier_health_minutes (device_id, minute_ms) WHERE forwarded_ms IS NULL;
   CREATE INDEX courier_health_events_pending ON courier_health_events (device_id, at_ms, kind) WHERE forwarded_ms IS NULL;`;
