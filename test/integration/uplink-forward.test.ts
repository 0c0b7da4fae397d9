/**
 * The direct uplink against a real ClickHouse 18.16 server (Debian's), with the real
 * journal: exactly-once arrival, a server killed mid-forward, a watermark that never runs
 * ahead of the server, loss records, the bandwidth cap and time windows. clickhouse-client
 * over the native protocol is the oracle.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHealthSource } from '../../agent/health/healthSource.ts';
import type { Journal } from '../../agent/journal/journalApi.ts';
import { openJournalForConfig } from '../../agent/journal/openJournal.ts';
import { startUplink } from '../../agent/uplink/uplink.ts';
import type { Uplink, UplinkOptions } from '../../agent/uplink/uplink.ts';
import { AgentConfigSchema } from '../../shared/agentConfig.ts';
import type { AgentConfig, AgentConfigInput } from '../../shared/agentConfig.ts';
import type { IngestEvent } from '../../shared/journal.ts';
import { startClickHouseServer } from '../support/clickhouseServer.ts';
import type { ClickHouseServer } from '../support/clickhouseServer.ts';
import { makeTempDir } from '../support/tempDir.ts';

let server: ClickHouseServer;
beforeAll(async () => { server = await startClickHouseServer(); });
afterAll(async () => { await server.stop(); });

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

type Rig = { config: AgentConfig; journal: Journal; table: string; lossTable: string; start(extra?: Partial<UplinkOptions>): Uplink };

let tableCounter = 0;
function rig(uplink: Partial<NonNullable<AgentConfigInput['uplink']>> = {}, retention?: AgentConfigInput['retention']): Rig {
  const tmp = makeTempDir('fieldkit-uplink-');
  tableCounter += 1;
  const table = `telemetry_${tableCounter}`;
  const lossTable = `telemetry_loss_${tableCounter}`;
  const config = AgentConfigSchema.parse({
    device_id: 'pi-07',
    site: 'depot-north',
    data_dir: join(tmp.path, 'data'),
    model_version: 'yolov8n-2026.01',
    retention,
    uplink: { url: server.url, table, loss_table: lossTable, batch_rows: 2000, ...uplink },
  });
  const journal = openJournalForConfig(config);
  const uplinks: Uplink[] = [];
  cleanups.push(async () => {
    for (const u of uplinks) await u.stop();
    journal.close();
    tmp.remove();
  });
  return {
    config,
    journal,
    table,
    lossTable,
    start(extra = {}) {
      const u = startUplink({ config, journal, pollMs: 50, backoff: { initialMs: 50, maxMs: 400 }, ...extra });
      uplinks.push(u);
      return u;
    },
  };
}

function events(n: number, from = 0): IngestEvent[] {
  return Array.from({ length: n }, (_, i): IngestEvent => {
    const k = from + i;
    return k % 10 === 0
      ? { priority: 1 as const, kind: 'power.undervoltage', payload: { seq_hint: k, note: 'tab\t"quote" é' } }
      : { priority: 3 as const, kind: 'inference', payload: { latency_ms: k % 97, label: 'person', k } };
  });
}

function appendMany(journal: Journal, total: number, chunk = 5000): void {
  for (let done = 0; done < total; done += chunk) journal.append(events(Math.min(chunk, total - done), done), Date.UTC(2026, 0, 15, 2, 14) + done);
}

async function until<T>(what: string, probe: () => T | false | undefined | Promise<T | false | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** count, distinct seq, min, max, as clickhouse-client sees them over the native protocol. */
async function oracle(table: string, final = true): Promise<{ count: number; distinct: number; min: number; max: number }> {
  const out = await server.client(`SELECT count(), uniqExact(seq), min(seq), max(seq) FROM ${table}${final ? ' FINAL' : ''}`);
  const [count, distinct, min, max] = out.trim().split('\t').map(Number);
  return { count: count ?? -1, distinct: distinct ?? -1, min: min ?? -1, max: max ?? -1 };
}

describe('direct uplink to ClickHouse 18.16', () => {
  it('creates the tables on a fresh server and delivers every record exactly once, with site, via and the server clock', async () => {
    const r = rig();
    appendMany(r.journal, 9_000);
    const uplink = r.start();
    await until('everything forwarded', () => r.journal.info().forwarded_seq === 9_000);
    expect(await oracle(r.table, false)).toEqual({ count: 9_000, distinct: 9_000, min: 1, max: 9_000 });
    expect((await server.client(`SELECT DISTINCT site, via, clock_offset_ms FROM ${r.table}`)).trim()).toBe('depot-north\tuplink\t0');
    expect(Number((await server.client(`SELECT countIf(inserted_at > toDateTime('2020-01-01 00:00:00')) FROM ${r.table}`)).trim())).toBe(9_000);
    const [journalRow] = r.journal.read({ after_seq: 4_999, limit: 1, max_bytes: 1 << 20 });
    const stored = (await server.client(`SELECT device_id, journal_id, seq, ts_ms, recv_ms, priority, kind, model_version, payload FROM ${r.table} WHERE seq = 5000 FORMAT JSONEachRow`)).trim();
    expect(JSON.parse(stored)).toEqual({ ...journalRow, seq: '5000', ts_ms: String(journalRow?.ts_ms), recv_ms: String(journalRow?.recv_ms) });

    const status = uplink.status();
    expect(status).toMatchObject({ state: 'idle', last_error: null, forwarded_seq: 9_000, server_version: '18.16.1' });
    expect(status.last_forward_ms).not.toBeNull();
    expect(status.batches).toBeGreaterThanOrEqual(5);
    expect(r.journal.info().forwarded_seq).toBe(9_000);

    // New records keep flowing; the health sample shows the uplink.
    r.journal.append(events(10, 9_000), Date.now());
    await until('the new records', () => r.journal.info().forwarded_seq === 9_010);
    expect(await oracle(r.table, false)).toMatchObject({ count: 9_010, distinct: 9_010 });
    const health = createHealthSource({ config: { ...r.config, health: { ...r.config.health, vcgencmd: null, nvme: null } }, journal: r.journal, agentVersion: '1.4.2', uplinkState: () => uplink.status() });
    const sample = await health.sample();
    health.close();
    expect(sample.uplink).toEqual({ state: 'idle', last_forward_ms: uplink.status().last_forward_ms, last_error: null });
    expect(sample.journal.backlog_records).toBe(0);
  });

  it('survives clickhouse-server killed mid-forward: no loss, no duplicate after FINAL, watermark never ahead of the server', async () => {
    const r = rig();
    const total = 60_000;
    appendMany(r.journal, total);
    const uplink = r.start();
    // The invariant, checked all along: every seq at or below the watermark is in ClickHouse.
    const violations: string[] = [];
    let checks = 0;
    const probing = { on: true };
    const probe = (async () => {
      while (probing.on) {
        try {
          const watermark = r.journal.info().forwarded_seq;
          const present = Number((await server.query(`SELECT uniqExact(seq) FROM ${r.table} WHERE seq <= ${String(watermark)}`)).trim());
          checks += 1;
          if (present !== watermark) violations.push(`watermark ${String(watermark)} but ${String(present)} distinct seqs at or below it`);
        } catch {
          // Server down, table not made yet, or the test is over: nothing to compare.
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();

    cleanups.push(async () => {
      probing.on = false;
      await probe;
    });
    await until('a fifth forwarded', () => r.journal.info().forwarded_seq >= total / 5, 30_000);
    await server.kill();
    const atKill = r.journal.info().forwarded_seq;
    expect(atKill).toBeLessThan(total);
    const backoff = await until('backoff', () => (uplink.status().state === 'backoff' ? uplink.status() : undefined));
    expect(backoff.last_error).toMatch(/not reachable/);
    // While the server is down the watermark stays put (the pause is the point: time to move it wrongly).
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(r.journal.info().forwarded_seq).toBe(atKill);

    await server.start();
    await until('everything forwarded after the restart', () => r.journal.info().forwarded_seq === total, 40_000);
    probing.on = false;
    await probe;
    expect(violations).toEqual([]);
    expect(checks).toBeGreaterThan(5);

    const raw = await oracle(r.table, false);
    expect(raw.distinct).toBe(total);
    expect(raw.count).toBeGreaterThanOrEqual(total);
    expect(await oracle(r.table, true)).toEqual({ count: total, distinct: total, min: 1, max: total });
    await server.client(`OPTIMIZE TABLE ${r.table} FINAL`);
    expect(await oracle(r.table, false)).toEqual({ count: total, distinct: total, min: 1, max: total });
    expect(uplink.status()).toMatchObject({ state: 'idle', last_error: null });
  });

  it('leaves the watermark alone while the server is unreachable, and says what to check', async () => {
    const r = rig({ url: 'http://127.0.0.1:9/' });
    appendMany(r.journal, 100);
    const uplink = r.start();
    const result = await uplink.forwardNow();
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('UNAVAILABLE');
      expect(result.error.hint).toMatch(/config\.uplink\.url/);
    }
    await until('backoff', () => uplink.status().state === 'backoff');
    expect(uplink.status().last_error).toMatch(/127\.0\.0\.1:9.*not reachable|not reachable/);
    expect(r.journal.info().forwarded_seq).toBe(0);
  });

  it('forwards loss records with the data, so every gap is explained downstream', async () => {
    const r = rig({}, { budget_bytes: 120_000 });
    appendMany(r.journal, 3_000, 500);
    const losses = r.journal.losses(0);
    expect(losses.length).toBeGreaterThan(0);
    const lastSeq = r.journal.info().last_seq;
    r.start();
    await until('everything forwarded', () => r.journal.info().forwarded_seq === lastSeq);
    const forwardedLosses = (await server.client(`SELECT from_seq, to_seq, count, priority, reason, site, via FROM ${r.lossTable} FINAL ORDER BY from_seq FORMAT JSONEachRow`))
      .trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(forwardedLosses).toEqual(losses.map((l) => ({
      from_seq: String(l.from_seq), to_seq: String(l.to_seq), count: String(l.count), priority: l.priority, reason: l.reason, site: 'depot-north', via: 'uplink',
    })));
    const held = await oracle(r.table);
    const lost = Number((await server.client(`SELECT sum(count) FROM ${r.lossTable} FINAL`)).trim());
    expect(held.distinct + lost).toBe(lastSeq);
  });

  it('paces batches to the bandwidth cap (200 kB/s), measured in bytes on the wire', async () => {
    const cap = 200_000;
    const r = rig({ max_bytes_per_s: cap });
    // Random text barely compresses, so the wire carries about what the journal holds.
    const incompressible = Array.from({ length: 1_000 }, () => ({ priority: 3 as const, kind: 'blob', payload: { b: randomBytes(600).toString('base64') } }));
    r.journal.append(incompressible, Date.now());
    const started = Date.now();
    const uplink = r.start();
    await until('everything forwarded', () => r.journal.info().forwarded_seq === 1_000, 30_000);
    const elapsedS = (Date.now() - started) / 1000;
    const { bytes_sent: sent, batches } = uplink.status();
    const expectedS = sent / cap;
    console.log(`uplink cap ${cap} B/s: ${sent} bytes on the wire in ${batches} batches, ${elapsedS.toFixed(2)} s (expected about ${expectedS.toFixed(2)} s)`);
    expect(sent).toBeGreaterThan(700_000);
    expect(batches).toBeGreaterThanOrEqual(4);
    // The last batch is sent at once and nobody waits after it: one batch (~1 s) early at most.
    expect(elapsedS).toBeGreaterThan(expectedS - 1.5);
    expect(elapsedS).toBeLessThan(expectedS * 1.5 + 1);
  });

  it('sends nothing outside its time windows, and forwards once inside one', async () => {
    const r = rig({ windows: [{ from: '22:00', to: '06:00' }] });
    appendMany(r.journal, 500);
    const clock = { ms: new Date(2026, 0, 15, 12, 0, 0).getTime() };
    const uplink = r.start({ now: () => clock.ms });
    await until('outside_window', () => uplink.status().state === 'outside_window');
    const refused = await uplink.forwardNow();
    expect(refused.ok).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the point: outside the window, nothing goes out meanwhile
    expect(uplink.status()).toMatchObject({ state: 'outside_window', bytes_sent: 0, batches: 0, forwarded_seq: 0 });
    expect((await server.client(`EXISTS TABLE ${r.table}`)).trim()).toBe('0');

    clock.ms = new Date(2026, 0, 15, 23, 30, 0).getTime();
    const forwarded = await uplink.forwardNow();
    expect(forwarded).toEqual({ ok: true, value: { records: 500, losses: 0, through_seq: 500 } });
    expect(await oracle(r.table)).toMatchObject({ count: 500, distinct: 500 });
  });
});
