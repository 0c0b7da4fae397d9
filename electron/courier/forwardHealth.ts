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
import { throwIfCancelled } from '../kernel/jobs/jobContext.ts';
import type { HealthHistoryStore } from './healthHistoryStore.ts';

export type HealthInsert = (table: string, columns: readonly string[], body: string, token: string | null) => Promise<void>;

export type HealthForwardDeps = {
  history: HealthHistoryStore;
  /** The site a device's rows are filed under: that of its most recently pulled journal. */
  siteOf: (deviceId: string) => string | null;
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

function tokenFor(table: string, body: string): string {
  return `${table}:${createHash('sha256').update(body).digest('hex').slice(0, 32)}`;
}

/** `siteOf`, asked once per device within one batch. */
function sitesFor(siteOf: (deviceId: string) => string | null): (deviceId: string) => string {
  const known = new Map<string, string>();
  return (deviceId) => {
    let site = known.get(deviceId);
    if (site === undefined) {
      site = siteOf(deviceId) ?? '';
      known.set(deviceId, site);
    }
    return site;
  };
}

export async function forwardHealthHistory(deps: HealthForwardDeps): Promise<{ minutes: number; events: number }> {
  const { history } = deps;
  const sent = { minutes: 0, events: 0 };

  // A row marked while sending cannot come back in the next read; one that stays pending
  // (replaced meanwhile) would, so each pass skips keys it already sent.
  const seen = new Set<string>();
  for (;;) {
    throwIfCancelled(deps.signal);
    const rows = history.pendingMinutes(deps.batchRows + seen.size).filter((r) => !seen.has(`${r.device_id}\0${String(r.minute_ms)}`)).slice(0, deps.batchRows);
    if (rows.length === 0) break;
    const site = sitesFor(deps.siteOf);
    const body = rows
      .map((r) => {
        const m = r.parsed;
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
          site: site(r.device_id),
          via: deps.via,
        })}\n`;
      })
      .join('');
    await deps.insert(deps.minutesTable, HEALTH_MINUTES_INSERT_COLUMNS, body, deps.dedupTokens ? tokenFor('health_minutes', body) : null);
    history.markMinutesForwarded(rows, Date.now());
    for (const r of rows) seen.add(`${r.device_id}\0${String(r.minute_ms)}`);
    sent.minutes += rows.length;
    deps.onBatch?.(rows.length);
  }

  for (;;) {
    throwIfCancelled(deps.signal);
    const rows = history.pendingEvents(deps.batchRows);
    if (rows.length === 0) break;
    const site = sitesFor(deps.siteOf);
    const body = rows.map((r) => `${JSON.stringify({ device_id: r.device_id, at_ms: r.at_ms, kind: r.kind, detail: r.detail, site: site(r.device_id), via: deps.via })}\n`).join('');
    await deps.insert(deps.eventsTable, HEALTH_EVENTS_INSERT_COLUMNS, body, deps.dedupTokens ? tokenFor('health_events', body) : null);
    history.markEventsForwarded(rows, Date.now());
    sent.events += rows.length;
    deps.onBatch?.(rows.length);
  }
  return sent;
}
