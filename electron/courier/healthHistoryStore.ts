/**
 * Health history pulls carried home: each device's minutes and events as its agent kept
 * them, and when each was confirmed in ClickHouse. The only code that reads or writes
 * courier_health_minutes and courier_health_events. A minute pulled again (it filled up
 * meanwhile) replaces the stored one and so is pending again; an event is stored once.
 */
import { HealthEventSchema, HealthMinuteSchema, type HealthEvent, type HealthMinute } from '../../shared/health.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { rowReader } from '../kernel/store/storeRows.ts';

const minutes = rowReader('courier_health_minutes');
const events = rowReader('courier_health_events');
const eventKinds = HealthEventSchema.shape.kind.options;

/** A pending minute as held: the stored JSON is what marking compares, so a replaced minute stays pending. */
export type PendingHealthMinute = { device_id: string; minute_ms: number; minute: string; parsed: HealthMinute };
export type PendingHealthEvent = { device_id: string; at_ms: number; kind: string; detail: string };

export type HealthHistoryStore = ReturnType<typeof createHealthHistoryStore>;

export function createHealthHistoryStore(db: Store) {
  const upsertMinute = db.prepare(`INSERT OR REPLACE INTO courier_health_minutes (device_id, minute_ms, minute) VALUES (?, ?, ?)`);
  const insertEvent = db.prepare(`INSERT OR IGNORE INTO courier_health_events (device_id, at_ms, kind, detail) VALUES (?, ?, ?, ?)`);
  const selectMinutes = db.prepare(
    `SELECT minute FROM (SELECT minute, minute_ms FROM courier_health_minutes WHERE device_id = ? AND minute_ms >= ? ORDER BY minute_ms DESC LIMIT ?) ORDER BY minute_ms`,
  );
  const selectEvents = db.prepare(
    `SELECT at_ms, kind, detail FROM (SELECT * FROM courier_health_events WHERE device_id = ? AND at_ms >= ? ORDER BY at_ms DESC LIMIT ?) ORDER BY at_ms, kind`,
  );
  const selectLastMinute = db.prepare(`SELECT max(minute_ms) AS m FROM courier_health_minutes WHERE device_id = ?`);
  const countPendingMinutes = db.prepare(`SELECT count(*) AS n FROM courier_health_minutes WHERE forwarded_ms IS NULL`);
  const countPendingEvents = db.prepare(`SELECT count(*) AS n FROM courier_health_events WHERE forwarded_ms IS NULL`);
  const selectPendingMinutes = db.prepare(`SELECT device_id, minute_ms, minute FROM courier_health_minutes WHERE forwarded_ms IS NULL ORDER BY device_id, minute_ms LIMIT ?`);
  const selectPendingEvents = db.prepare(`SELECT device_id, at_ms, kind, detail FROM courier_health_events WHERE forwarded_ms IS NULL ORDER BY device_id, at_ms, kind LIMIT ?`);
  const markMinute = db.prepare(`UPDATE courier_health_minutes SET forwarded_ms = ? WHERE device_id = ? AND minute_ms = ? AND minute = ?`);
  const markEvent = db.prepare(`UPDATE courier_health_events SET forwarded_ms = ? WHERE device_id = ? AND at_ms = ? AND kind = ?`);

  const toEvent = (raw: unknown): PendingHealthEvent => {
    const row = events.row(raw);
    return { device_id: events.text(row, 'device_id'), at_ms: events.int(row, 'at_ms'), kind: events.text(row, 'kind'), detail: events.text(row, 'detail') };
  };

  return {
    store(deviceId: string, pulledMinutes: readonly HealthMinute[], pulledEvents: readonly HealthEvent[]): void {
      db.transaction(() => {
        for (const minute of pulledMinutes) upsertMinute.run(deviceId, minute.minute_ms, JSON.stringify(minute));
        for (const event of pulledEvents) insertEvent.run(deviceId, event.at_ms, event.kind, event.detail);
      })();
    },
    /** Pulled health history of one device (agent device id), oldest first: at most the newest `limit` minutes and events. */
    read(deviceId: string, sinceMs: number, limit: number): { minutes: HealthMinute[]; events: HealthEvent[] } {
      return {
        minutes: selectMinutes.all(deviceId, sinceMs, limit).map((raw) => minutes.json(minutes.row(raw), 'minute', HealthMinuteSchema)),
        events: selectEvents.all(deviceId, sinceMs, limit).map((raw) => {
          const row = events.row(raw);
          return { at_ms: events.int(row, 'at_ms'), kind: events.oneOf(row, 'kind', eventKinds), detail: events.text(row, 'detail') };
        }),
      };
    },
    /** The newest minute held of a device (0 if none): the next pull asks for what came after. */
    lastMinute(deviceId: string): number {
      return minutes.intOrNull(minutes.row(selectLastMinute.get(deviceId)), 'm') ?? 0;
    },
    /** Health rows held here and not yet confirmed in ClickHouse. */
    pending(): { minutes: number; events: number } {
      return { minutes: minutes.int(minutes.row(countPendingMinutes.get()), 'n'), events: events.int(events.row(countPendingEvents.get()), 'n') };
    },
    /** Pending minutes in key order. */
    pendingMinutes(limit: number): PendingHealthMinute[] {
      return selectPendingMinutes.all(limit).map((raw) => {
        const row = minutes.row(raw);
        return {
          device_id: minutes.text(row, 'device_id'),
          minute_ms: minutes.int(row, 'minute_ms'),
          minute: minutes.text(row, 'minute'),
          parsed: minutes.json(row, 'minute', HealthMinuteSchema),
        };
      });
    },
    pendingEvents(limit: number): PendingHealthEvent[] {
      return selectPendingEvents.all(limit).map(toEvent);
    },
    /** Marks exactly what was sent: a minute replaced since (it filled up) does not match and stays pending. */
    markMinutesForwarded(sent: readonly PendingHealthMinute[], now: number): void {
      db.transaction(() => {
        for (const r of sent) markMinute.run(now, r.device_id, r.minute_ms, r.minute);
      })();
    },
    markEventsForwarded(sent: readonly PendingHealthEvent[], now: number): void {
      db.transaction(() => {
        for (const r of sent) markEvent.run(now, r.device_id, r.at_ms, r.kind);
      })();
    },
  };
}
