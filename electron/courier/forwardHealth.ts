/**
 * The health history part of a forward: minutes and events that pulls carried home go to
 * `health_minutes` / `health_events`, after the journals (records matter more). Same rules
 * as records: batches in key order, a token from the batch's content (the same rows
 * always carry the same token), marked only after the server acknowledged, by exactly
 * what was sent — a minute a pull replaced meanwhile (it filled up) stays pending and is
 * sent again, and ReplacingMergeTree keeps the last one.
 */
import { createHash } from 'node:crypto';
import { HEALTH_EVENTS_INSERT_COLUMNS, HEALTH_MINUTES_INSERT_COLUMNS } from '../../shared/clickhouseSchema.ts';
import type { HealthMinute } from '../../shared/health.ts';
import { throwIfCancelled } from '../kernel/jobs/jobContext.ts';
import type { Store } from '../kernel/store/openStore.ts';

export type HealthInsert = (table: string, columns: readonly string[], body: string, token: string | null) => Promise<void>;

export type HealthForwardDeps = {
  db: Store;
  minutesTable: string;
  eventsTable: string;
  /** Who delivered it: `courier:<laptop id>`. */
  via: string;
  batchRows: number;
  dedupTokens: boolean;
  insert: HealthInsert;
  signal: AbortSignal;
  /** Told after each acknowledged batch. */
  onBatch?: (rows: number) => void;
};

type MinuteRow = { device_id: string; minute_ms: number; minute: string; site: string | null };
type EventRow = { device_id: string; at_ms: number; kind: string; detail: string; site: string | null };

const siteOf = `(SELECT site FROM courier_journals j WHERE j.device_id = h.device_id ORDER BY last_pull_ms DESC LIMIT 1)`;

function tokenFor(table: string, body: string): string {
  return `${table}:${createHash('sha256').update(body).digest('hex').slice(0, 32)}`;
}

/** Health rows held here and not yet confirmed in ClickHouse. */
export function pendingHealthRows(db: Store): { minutes: number; events: number } {
  const m = db.prepare(`SELECT count(*) AS n FROM courier_health_minutes WHERE forwarded_ms IS NULL`).get() as { n: number };
  const e = db.prepare(`SELECT count(*) AS n FROM courier_health_events WHERE forwarded_ms IS NULL`).get() as { n: number };
  return { minutes: m.n, events: e.n };
}

export async function forwardHealthHistory(deps: HealthForwardDeps): Promise<{ minutes: number; events: number }> {
  const { db } = deps;
  const nextMinutes = db.prepare(
    `SELECT device_id, minute_ms, minute, ${siteOf} AS site FROM courier_health_minutes h WHERE forwarded_ms IS NULL ORDER BY device_id, minute_ms LIMIT ?`,
  );
  const markMinute = db.prepare(`UPDATE courier_health_minutes SET forwarded_ms = ? WHERE device_id = ? AND minute_ms = ? AND minute = ?`);
  const nextEvents = db.prepare(
    `SELECT device_id, at_ms, kind, detail, ${siteOf} AS site FROM courier_health_events h WHERE forwarded_ms IS NULL ORDER BY device_id, at_ms, kind LIMIT ?`,
  );
  const markEvent = db.prepare(`UPDATE courier_health_events SET forwarded_ms = ? WHERE device_id = ? AND at_ms = ? AND kind = ?`);
  const sent = { minutes: 0, events: 0 };

  // A row marked while sending cannot come back in the next read; one that stays pending
  // (replaced meanwhile) would, so each pass skips keys it already sent.
  const seen = new Set<string>();
  for (;;) {
    throwIfCancelled(deps.signal);
    const rows = (nextMinutes.all(deps.batchRows + seen.size) as MinuteRow[]).filter((r) => !seen.has(`${r.device_id}\0${String(r.minute_ms)}`)).slice(0, deps.batchRows);
    if (rows.length === 0) break;
    const body = rows
      .map((r) => {
        const m = JSON.parse(r.minute) as HealthMinute;
        return `${JSON.stringify({
          device_id: r.device_id,
          minute_ms: r.minute_ms,
          cpu_pct_avg: m.cpu_pct_avg,
          temp_c_max: m.temp_c_max,
          mem_available_min_bytes: m.mem_available_min_bytes,
          disk_free_min_bytes: m.disk_free_min_bytes,
          throttled_raw_or: m.throttled_raw_or,
          backlog_records_max: m.backlog_records_max,
          inference_p95_ms: m.inference_p95_ms,
          site: r.site ?? '',
          via: deps.via,
        })}\n`;
      })
      .join('');
    await deps.insert(deps.minutesTable, HEALTH_MINUTES_INSERT_COLUMNS, body, deps.dedupTokens ? tokenFor('health_minutes', body) : null);
    const now = Date.now();
    db.transaction(() => {
      for (const r of rows) markMinute.run(now, r.device_id, r.minute_ms, r.minute);
    })();
    for (const r of rows) seen.add(`${r.device_id}\0${String(r.minute_ms)}`);
    sent.minutes += rows.length;
    deps.onBatch?.(rows.length);
  }

  for (;;) {
    throwIfCancelled(deps.signal);
    const rows = nextEvents.all(deps.batchRows) as EventRow[];
    if (rows.length === 0) break;
    const body = rows.map((r) => `${JSON.stringify({ device_id: r.device_id, at_ms: r.at_ms, kind: r.kind, detail: r.detail, site: r.site ?? '', via: deps.via })}\n`).join('');
    await deps.insert(deps.eventsTable, HEALTH_EVENTS_INSERT_COLUMNS, body, deps.dedupTokens ? tokenFor('health_events', body) : null);
    const now = Date.now();
    db.transaction(() => {
      for (const r of rows) markEvent.run(now, r.device_id, r.at_ms, r.kind);
    })();
    sent.events += rows.length;
    deps.onBatch?.(rows.length);
  }
  return sent;
}
