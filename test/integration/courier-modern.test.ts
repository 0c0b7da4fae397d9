/**
 * Forward and reconcile on the current ClickHouse engine (chdb, behind a small HTTP front so
 * the courier's real @clickhouse/client path runs unchanged), and reconcile at scale on
 * both generations: a million seqs, missing ranges found inside the server.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileWithClickHouse } from '../../electron/courier/reconcile.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import { telemetryLossTableDdl, telemetryTableDdl, TELEMETRY_INSERT_COLUMNS } from '../../shared/clickhouseSchema.ts';
import type { ClickHouseSettings } from '../../shared/clickhouseSettings.ts';
import { ForwardResultSchema } from '../../shared/courier.ts';
import { syntheticEvents } from '../support/agentEvents.ts';
import { startChdbHttp, type ChdbHttp } from '../support/chdbHttp.ts';
import { startClickHouseServer, type ClickHouseServer } from '../support/clickhouseServer.ts';
import { eventsWithKinds, startCourierRig, type CourierRig } from '../support/courierRig.ts';
import { makeTempDir } from '../support/tempDir.ts';

let modern: ChdbHttp;
beforeAll(async () => {
  modern = await startChdbHttp();
});
afterAll(async () => {
  await modern.stop();
});

describe('courier forward to the current ClickHouse engine', () => {
  let rig: CourierRig;
  const total = 30_000;
  beforeAll(async () => {
    rig = await startCourierRig({ deviceId: 'pi-21' });
    rig.ingest(syntheticEvents(total));
    expect((await rig.pull()).state).toBe('done');
    await rig.services.handlers['settings.clickhouse.set']({ url: modern.url, table: 'modern' });
  });
  afterAll(async () => {
    await rig.close();
  });

  it('creates the tables, sends a deterministic deduplication token per batch, lands every record once, and reconcile says complete', async () => {
    const test = await rig.services.handlers['settings.clickhouse.test']({});
    expect(Number(test.version.split('.')[0])).toBeGreaterThanOrEqual(24);
    expect(test).toMatchObject({ dedupTokens: true, tablesExist: false });

    const job = await rig.forward({ batchRows: 10_000 });
    expect(job.error).toBeNull();
    expect(ForwardResultSchema.parse(job.result)).toMatchObject({ forwarded: total, batches: 3, dedupTokens: true });
    expect(modern.sql("SELECT engine, sorting_key FROM system.tables WHERE name = 'modern'").trim()).toBe('ReplacingMergeTree\tdevice_id, journal_id, seq');
    const journalId = (await rig.services.handlers['courier.status']({})).journals[0]?.journal_id ?? '';
    const inserts = modern.requests.filter((r) => r.query.startsWith('INSERT INTO `default`.`modern`'));
    expect(inserts.map((r) => [r.settings.insert_deduplication_token, r.rows])).toEqual([
      [`pi-21:${journalId}:1-10000`, 10_000],
      [`pi-21:${journalId}:10001-20000`, 10_000],
      [`pi-21:${journalId}:20001-30000`, 10_000],
    ]);
    expect(inserts[0]?.query).toBe(`INSERT INTO \`default\`.\`modern\` (${TELEMETRY_INSERT_COLUMNS.join(', ')}) FORMAT TabSeparated`);
    expect(modern.sql("SELECT count(), uniqExact(seq), min(seq), max(seq) FROM modern FINAL WHERE device_id = 'pi-21'").trim()).toBe(`${total}\t${total}\t1\t${total}`);
    const [journal] = (await rig.services.handlers['courier.reconcile']({ maxRanges: 10 })).journals;
    expect(journal).toMatchObject({ status: 'complete', clickhouse: { count: total, distinct: total } });
    expect(journal?.summary).toMatch(new RegExp(`^pi-21: complete through seq ${total}, all the device had when pulled (just now|\\d+ s ago)$`));
  });

  it('retries a batch whose answer was lost with the same boundaries and token, and the server drops the second copy', async () => {
    // An administrator's table that keeps block tokens (MergeTree keeps none unless asked).
    modern.sql(`${telemetryTableDdl({ table: 'dedup' })} SETTINGS non_replicated_deduplication_window = 1000`);
    modern.sql(telemetryLossTableDdl({ lossTable: 'dedup_loss' }));
    await rig.services.handlers['settings.clickhouse.set']({ table: 'dedup' });
    const writable = new Database(join(rig.dataDir, 'fieldkit.db'));
    writable.prepare('UPDATE courier_records SET forwarded_ms = NULL').run();
    writable.close();

    const before = modern.requests.length;
    modern.loseNextInsertAnswer();
    const job = await rig.forward({ batchRows: 10_000 });
    expect(job.error).toBeNull();
    expect(ForwardResultSchema.parse(job.result)).toMatchObject({ forwarded: total, retries: 1 });
    const inserts = modern.requests.slice(before).filter((r) => r.query.startsWith('INSERT'));
    expect(inserts).toHaveLength(4);
    expect(inserts[0]?.settings.insert_deduplication_token).toBe(inserts[1]?.settings.insert_deduplication_token);
    expect(inserts[0]?.rows).toBe(inserts[1]?.rows);
    // Both copies reached the server; it kept one (no FINAL needed).
    expect(modern.sql("SELECT count(), uniqExact(seq) FROM dedup WHERE device_id = 'pi-21'").trim()).toBe(`${total}\t${total}`);
  });

  it('creates the schema ON CLUSTER when a cluster is set, and says so when the server has no such cluster', async () => {
    await rig.services.handlers['settings.clickhouse.set']({ table: 'clu', cluster: 'fleet' });
    const before = modern.requests.length;
    const job = await rig.forward();
    expect(job.state).toBe('failed');
    expect(job.error).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining("Requested cluster 'fleet' not found") as unknown, hint: expect.stringContaining('system.clusters') as unknown });
    // The replicated per-shard table first, as shared/clickhouseSchema.ts's cluster variant gives it.
    const ddl = modern.requests.slice(before).find((r) => r.query.startsWith('CREATE TABLE'));
    expect(ddl?.query).toMatch(/^CREATE TABLE IF NOT EXISTS `default`\.`clu_local` ON CLUSTER `fleet` \([\s\S]*ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/default\/clu_local', '\{replica\}'\)/);
    await rig.services.handlers['settings.clickhouse.set']({ cluster: null });
  });

  it('quarantines a record the current engine refuses, with its words', async () => {
    const poisoned = await startCourierRig({ deviceId: 'pi-22' });
    try {
      poisoned.ingest(eventsWithKinds(5000, { 4321: 'sensor.glitch' }));
      expect((await poisoned.pull()).state).toBe('done');
      modern.sql(telemetryTableDdl({ table: 'tight' }).replace('kind String', "kind Enum8('inference' = 1, 'gps.fix' = 2, 'safety.stop' = 3)"));
      await poisoned.services.handlers['settings.clickhouse.set']({ url: modern.url, table: 'tight', batchRows: 10_000 });
      const job = await poisoned.forward();
      expect(ForwardResultSchema.parse(job.result)).toMatchObject({ forwarded: 4999, quarantined: 1 });
      const { entries } = await poisoned.services.handlers['courier.quarantine.list']({ includeDiscarded: false, limit: 10 });
      expect(entries).toHaveLength(1);
      expect(entries[0]?.seq).toBe(4322);
      expect(entries[0]?.reason).toMatch(/^ClickHouse refused the data \(code 691 UNKNOWN_ELEMENT_OF_ENUM\): Unknown element 'sensor\.glitch' for enum/);
      expect(modern.sql("SELECT count() FROM tight FINAL WHERE device_id = 'pi-22'").trim()).toBe('4999');
    } finally {
      await poisoned.close();
    }
  });
});

describe('reconcile at a million seqs on both generations', () => {
  let old: ClickHouseServer;
  const tmp = makeTempDir('fieldkit-reconcile-scale-');
  beforeAll(async () => {
    old = await startClickHouseServer();
  });
  afterAll(async () => {
    await old.stop();
    tmp.remove();
  });

  /** A million seqs with seqs 1200-1350 (a retention loss) and every 250000th+7 (unexplained) missing. */
  const fill = (table: string): string => `INSERT INTO ${table} (${TELEMETRY_INSERT_COLUMNS.join(', ')})
    SELECT 'pi-big', 'j-big', number + 1, 1767225600000 + number, 1767225600000 + number, 3, 'inference', 'm', '{}', 'depot', 'courier:test', 0
    FROM numbers(1000000) WHERE NOT (number + 1 BETWEEN 1200 AND 1350) AND (number + 1) % 250000 != 7`;

  function laptopState(): ReturnType<typeof openStore> {
    const db = openStore(join(tmp.path, 'laptop'));
    db.prepare(
      `INSERT OR REPLACE INTO courier_journals (device_id, journal_id, device_ref, site, first_pull_ms, last_pull_ms, contiguous_seq, agent_last_seq, agent_first_seq)
       VALUES ('pi-big', 'j-big', NULL, 'depot', 1, 1, 1000000, 1000500, 1)`,
    ).run();
    db.prepare(
      `INSERT OR IGNORE INTO courier_losses (device_id, journal_id, from_seq, to_seq, count, priority, reason, at_ms, site, pulled_ms) VALUES ('pi-big', 'j-big', 1200, 1350, 151, 3, 'retention_budget', 1, 'depot', 1)`,
    ).run();
    return db;
  }

  const expected = [
    { from_seq: 7, to_seq: 7, count: 1, reason: 'unknown', detail: '' },
    { from_seq: 1200, to_seq: 1350, count: 151, reason: 'lost_on_device', detail: 'retention' },
    { from_seq: 250_007, to_seq: 250_007, count: 1, reason: 'unknown', detail: '' },
    { from_seq: 500_007, to_seq: 500_007, count: 1, reason: 'unknown', detail: '' },
    { from_seq: 750_007, to_seq: 750_007, count: 1, reason: 'unknown', detail: '' },
    { from_seq: 1_000_001, to_seq: 1_000_500, count: 500, reason: 'not_yet_pulled', detail: '' },
  ];

  const settings = (url: string): ClickHouseSettings => ({ url, user: 'default', database: 'default', table: 'big', cluster: null, tls: { caFile: null, certFile: null, keyFile: null }, batchRows: 50_000 });

  it.each(['18.16', 'current'] as const)('finds and explains the gaps on %s in well under a few seconds', async (generation) => {
    const url = generation === '18.16' ? old.url : modern.url;
    if (generation === '18.16') {
      for (const ddl of [telemetryTableDdl({ table: 'big' }), telemetryLossTableDdl({ lossTable: 'big_loss' })]) await old.query(ddl);
      await old.query(fill('big'));
    } else {
      modern.sql(telemetryTableDdl({ table: 'big' }));
      modern.sql(telemetryLossTableDdl({ lossTable: 'big_loss' }));
      modern.sql(fill('big'));
    }
    const db = laptopState();
    try {
      const started = performance.now();
      const result = await reconcileWithClickHouse(db, { settings: settings(url), password: '' }, { maxRanges: 100 });
      const elapsedMs = performance.now() - started;
      const [journal] = result.journals;
      expect(journal).toMatchObject({
        status: 'missing',
        expected_through: 1_000_500,
        clickhouse: { count: 1_000_000 - 151 - 4, distinct: 1_000_000 - 151 - 4, min_seq: 1, max_seq: 1_000_000 },
        missing_records: 151 + 4 + 500,
        missing_ranges_total: 6,
      });
      expect(journal?.missing).toEqual(expected);
      expect(journal?.summary).toBe('pi-big: 4 seqs missing in 4 ranges between 7 and 750007 (unknown); seq 1200-1350 missing (lost on device: retention); seq 1000001-1000500 missing (not yet pulled)');
      expect(elapsedMs).toBeLessThan(5000);
    } finally {
      db.close();
    }
  });
});
