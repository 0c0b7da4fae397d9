/**
 * Health history to ClickHouse 18.16 with the courier: what the agent's daemon recorded
 * (minutes, events) is pulled with the journal and forwarded after it into health_minutes /
 * health_events, marked only once the server acknowledged, once under FINAL however often
 * it is sent, and a minute that filled up after a pull is replaced, not doubled.
 * clickhouse-client (native protocol) is the oracle.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHealthHistoryWriter } from '../../agent/health/healthHistory.ts';
import { storeFileName } from '../../electron/kernel/store/openStore.ts';
import { singleServerSchema } from '../../shared/clickhouseSchema.ts';
import { ForwardResultSchema } from '../../shared/courier.ts';
import type { HealthMinute } from '../../shared/health.ts';
import { syntheticEvents } from '../support/agentEvents.ts';
import { startClickHouseServer, type ClickHouseServer } from '../support/clickhouseServer.ts';
import { startCourierRig, type CourierRig } from '../support/courierRig.ts';

let server: ClickHouseServer;
let rig: CourierRig;
const t0 = Date.UTC(2026, 0, 15, 2, 0);
const minute = (i: number, patch: Partial<HealthMinute> = {}): HealthMinute => ({
  minute_ms: t0 + i * 60_000,
  cpu_pct_avg: 10 + i,
  temp_c_max: 50 + (i % 20),
  mem_available_min_bytes: 5e9,
  disk_free_min_bytes: 20e9,
  throttled_raw_or: i === 14 ? 0x50005 : 0,
  backlog_records_max: i * 3,
  inference_p95_ms: i % 2 === 0 ? 31.5 : null,
  ...patch,
});

function record(minutes: HealthMinute[], events: { at_ms: number; kind: 'under_voltage' | 'temp_high'; detail: string }[]): void {
  const writer = openHealthHistoryWriter(join(rig.agent.dataDir, 'health.db'));
  for (const m of minutes) writer.writeMinute(m);
  for (const e of events) writer.addEvent(e);
  writer.close();
}

function pendingHere(): { minutes: number; events: number } {
  const db = new Database(join(rig.dataDir, storeFileName), { readonly: true });
  try {
    const m = db.prepare(`SELECT count(*) AS n FROM courier_health_minutes WHERE forwarded_ms IS NULL`).get() as { n: number };
    const e = db.prepare(`SELECT count(*) AS n FROM courier_health_events WHERE forwarded_ms IS NULL`).get() as { n: number };
    return { minutes: m.n, events: e.n };
  } finally {
    db.close();
  }
}

async function inClickHouse(): Promise<{ minutesRaw: number; minutesFinal: number; events: number }> {
  const [minutesRaw, minutesFinal, events] = (
    await server.client(`SELECT (SELECT count() FROM health_minutes), (SELECT count() FROM health_minutes FINAL), (SELECT count() FROM health_events FINAL)`)
  )
    .trim()
    .split('\t')
    .map(Number);
  return { minutesRaw: minutesRaw ?? -1, minutesFinal: minutesFinal ?? -1, events: events ?? -1 };
}

beforeAll(async () => {
  server = await startClickHouseServer();
  rig = await startCourierRig({ deviceId: 'pi-07', site: 'north-yard' });
});
afterAll(async () => {
  await rig.close();
  await server.stop();
});

describe('health history forwarded to ClickHouse', () => {
  it('completes a server set up before health history existed, and forwards minutes and events after the journal', async () => {
    // The journal tables only, as an earlier fieldkit (or the agent's uplink) created them.
    for (const ddl of singleServerSchema()) await server.query(ddl);
    record(
      Array.from({ length: 30 }, (_, i) => minute(i)),
      [
        { at_ms: t0 + 14 * 60_000 + 5_000, kind: 'under_voltage', detail: 'under-voltage now' },
        { at_ms: t0 + 20 * 60_000, kind: 'temp_high', detail: '81 °C' },
      ],
    );
    rig.ingest(syntheticEvents(500));
    expect((await rig.pull()).state).toBe('done');
    expect(pendingHere()).toEqual({ minutes: 30, events: 2 });
    await rig.services.handlers['settings.clickhouse.set']({ url: server.url, password: '' });

    const job = await rig.forward();
    expect(job.error).toBeNull();
    const result = ForwardResultSchema.parse(job.result);
    expect(result).toMatchObject({ forwarded: 500, healthMinutesForwarded: 30, healthEventsForwarded: 2 });
    expect(job.log.some((l) => /Health history: 30 minutes and 2 events forwarded/.test(l.message))).toBe(true);
    expect(pendingHere()).toEqual({ minutes: 0, events: 0 });
    expect(await inClickHouse()).toEqual({ minutesRaw: 30, minutesFinal: 30, events: 2 });
    const row = (await server.client(`SELECT device_id, temp_c_max, throttled_raw_or, inference_p95_ms, site, via FROM health_minutes FINAL WHERE minute_ms = ${String(t0 + 14 * 60_000)} FORMAT JSONEachRow`)).trim();
    expect(JSON.parse(row)).toMatchObject({ device_id: 'pi-07', temp_c_max: 64, throttled_raw_or: 0x50005, site: 'north-yard', via: expect.stringMatching(/^courier:/) as unknown });
    expect(JSON.parse((await server.client(`SELECT inference_p95_ms FROM health_minutes FINAL WHERE minute_ms = ${String(t0 + 60_000)} FORMAT JSONEachRow`)).trim())).toEqual({ inference_p95_ms: null });
    expect((await server.client(`SELECT kind, detail FROM health_events FINAL ORDER BY at_ms FORMAT TSV`)).trim()).toBe('under_voltage\tunder-voltage now\ntemp_high\t81 °C');
  });

  it('sends nothing twice, and replaces a minute that filled up after the last pull', async () => {
    const again = ForwardResultSchema.parse((await rig.forward()).result);
    expect(again).toMatchObject({ forwarded: 0, healthMinutesForwarded: 0, healthEventsForwarded: 0 });
    // The last minute was still filling when pulled: the device rewrites it, the next pull brings it again.
    record([minute(29, { temp_c_max: 79, cpu_pct_avg: 93 }), minute(30)], []);
    expect((await rig.pull()).state).toBe('done');
    expect(pendingHere()).toEqual({ minutes: 2, events: 0 });
    const next = ForwardResultSchema.parse((await rig.forward()).result);
    expect(next).toMatchObject({ healthMinutesForwarded: 2, healthEventsForwarded: 0 });
    const counts = await inClickHouse();
    expect(counts.minutesFinal).toBe(31);
    expect(JSON.parse((await server.client(`SELECT temp_c_max, cpu_pct_avg FROM health_minutes FINAL WHERE minute_ms = ${String(t0 + 29 * 60_000)} FORMAT JSONEachRow`)).trim())).toEqual({ temp_c_max: 79, cpu_pct_avg: 93 });
  });

  it('keeps health history pending while the server is down, and sends it when it is back', async () => {
    record([minute(31), minute(32)], [{ at_ms: t0 + 32 * 60_000, kind: 'under_voltage', detail: 'under-voltage now' }]);
    expect((await rig.pull()).state).toBe('done');
    const before = pendingHere();
    expect(before.minutes).toBeGreaterThanOrEqual(2);
    await server.kill();
    const { jobId } = await rig.services.handlers['courier.forward']({ retryForSeconds: 1 });
    const failed = await rig.services.jobs.whenFinished(jobId);
    expect(failed.state).toBe('failed');
    expect(failed.error?.code).toBe('UNAVAILABLE');
    expect(pendingHere()).toEqual(before);
    await server.start();
    const done = ForwardResultSchema.parse((await rig.forward()).result);
    expect(done).toMatchObject({ healthMinutesForwarded: before.minutes, healthEventsForwarded: 1 });
    expect(pendingHere()).toEqual({ minutes: 0, events: 0 });
    expect(await inClickHouse()).toMatchObject({ minutesFinal: 33, events: 3 });
  });
});
