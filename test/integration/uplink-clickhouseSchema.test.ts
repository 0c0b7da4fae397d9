/**
 * The central schema on both ClickHouse generations: Debian's clickhouse-server 18.16 (a
 * real server, HTTP) and the current engine embedded by chdb. Same DDL, same inserts,
 * same answers.
 */
import { Session } from 'chdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TELEMETRY_INSERT_COLUMNS,
  TELEMETRY_LOSS_INSERT_COLUMNS,
  batchDeduplicationToken,
  clusterSchema,
  quoteIdentifier,
  singleServerSchema,
  supportsInsertDeduplicationToken,
} from '../../shared/clickhouseSchema.ts';
import type { TelemetryLossRow, TelemetryRow } from '../../shared/clickhouseSchema.ts';
import { startClickHouseServer } from '../support/clickhouseServer.ts';
import type { ClickHouseServer } from '../support/clickhouseServer.ts';
import { makeTempDir } from '../support/tempDir.ts';

function row(seq: number, patch: Partial<TelemetryRow> = {}): TelemetryRow {
  return {
    device_id: 'pi-07', journal_id: 'j-3f9a', seq, ts_ms: Date.UTC(2026, 0, 15, 2, 14) + seq, recv_ms: Date.UTC(2026, 0, 15, 2, 14) + seq + 3,
    priority: 3, kind: 'inference', model_version: 'yolov8n-2026.01', payload: JSON.stringify({ latency_ms: seq, text: 'tab\there "quoted" \\ é' }),
    site: 'depot-north', via: 'uplink', clock_offset_ms: 0, ...patch,
  };
}
const loss: TelemetryLossRow = {
  device_id: 'pi-07', journal_id: 'j-3f9a', from_seq: 4, to_seq: 9, count: 5, priority: 3, reason: 'retention_budget', at_ms: Date.UTC(2026, 0, 16), site: 'depot-north', via: 'uplink',
};
const ndjson = (rows: readonly object[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const insertSql = (table: string, columns: readonly string[]): string => `INSERT INTO ${table} (${columns.join(', ')}) FORMAT JSONEachRow`;

// Rows 1-3, then 2-3 again (a retried batch), plus a 1970 clock that must still land.
const rows = [row(1), row(2), row(3), row(2), row(3), row(10, { ts_ms: 0, priority: 1, kind: 'power.undervoltage' })];
const CHECK = `SELECT count() AS n, uniqExact(seq) AS distinct_seq, min(seq) AS lo, max(seq) AS hi,
  countIf(inserted_at > toDateTime('2001-01-01 00:00:00')) AS stamped FROM telemetry FINAL FORMAT JSONEachRow`;
const expected = { n: '4', distinct_seq: '4', lo: '1', hi: '10', stamped: '4' };

describe('central schema on ClickHouse 18.16 (Debian, a real server over HTTP)', () => {
  let server: ClickHouseServer;
  beforeAll(async () => { server = await startClickHouseServer(); });
  afterAll(async () => { await server.stop(); });

  it('creates both tables (twice: idempotent) and collapses a retried batch by key', async () => {
    expect((await server.query('SELECT version()')).trim()).toMatch(/^18\.16\./);
    for (let i = 0; i < 2; i++) for (const ddl of singleServerSchema()) await server.query(ddl);
    const describe = await server.query('DESCRIBE TABLE telemetry');
    expect(describe).toContain('inserted_at\tDateTime\tDEFAULT\tnow()');
    expect(await server.query("SELECT engine, partition_key, sorting_key FROM system.tables WHERE name = 'telemetry' FORMAT TSV").catch(async () =>
      // 18.16 has no partition_key/sorting_key columns yet: read the engine from the CREATE.
      server.query('SHOW CREATE TABLE telemetry'))).toMatch(/ReplacingMergeTree[\s\S]*toYYYYMM\(toDateTime\(intDiv\(ts_ms, 1000\)\)\)[\s\S]*device_id, journal_id, seq/);

    await fetch(`${server.url}?query=${encodeURIComponent(insertSql('telemetry', TELEMETRY_INSERT_COLUMNS))}`, { method: 'POST', body: ndjson(rows) })
      .then(async (r) => { expect(r.status, await r.text()).toBe(200); });
    await server.query(`${insertSql('telemetry_loss', TELEMETRY_LOSS_INSERT_COLUMNS)}\n${ndjson([loss, loss])}`);

    expect(JSON.parse(await server.query(CHECK))).toEqual(expected);
    const payload = (await server.client("SELECT payload FROM telemetry FINAL WHERE seq = 2 FORMAT TSVRaw")).trim();
    expect(JSON.parse(payload)).toEqual({ latency_ms: 2, text: 'tab\there "quoted" \\ é' });
    await server.query('OPTIMIZE TABLE telemetry_loss FINAL');
    expect((await server.client('SELECT count(), sum(count), any(reason) FROM telemetry_loss')).trim()).toBe('1\t5\tretention_budget');
  });

  it('refuses insert_deduplication_token, as the uplink expects of a pre-22.2 server', async () => {
    await expect(server.query('SELECT 1 SETTINGS insert_deduplication_token = \'x\'')).rejects.toThrow(/insert_deduplication_token/);
    expect(supportsInsertDeduplicationToken((await server.query('SELECT version()')).trim())).toBe(false);
  });
});

describe('central schema on current ClickHouse (chdb, embedded)', () => {
  const tmp = makeTempDir('fieldkit-chdb-');
  const session = new Session(tmp.path);
  afterAll(() => {
    session.cleanup();
    tmp.remove();
  });

  it('runs the same DDL and inserts, and gives the same answers', () => {
    const version = session.query('SELECT version()', 'TSV').trim();
    expect(Number(version.split('.')[0])).toBeGreaterThanOrEqual(24);
    for (let i = 0; i < 2; i++) for (const ddl of singleServerSchema()) session.query(ddl);
    session.query(`${insertSql('telemetry', TELEMETRY_INSERT_COLUMNS)}\n${ndjson(rows)}`);
    session.query(`${insertSql('telemetry_loss', TELEMETRY_LOSS_INSERT_COLUMNS)}\n${ndjson([loss, loss])}`);
    // Current servers quote 64-bit integers in JSON by default; ask for the 18.16 behaviour's equal.
    expect(JSON.parse(session.query(CHECK.replace('FORMAT JSONEachRow', 'SETTINGS output_format_json_quote_64bit_integers = 1 FORMAT JSONEachRow'), 'CSV'))).toEqual(expected);
    expect(session.query('SELECT count(), sum(count) FROM telemetry_loss FINAL', 'TSV').trim()).toBe('1\t5');
    expect(session.query("SELECT engine, partition_key, sorting_key FROM system.tables WHERE name = 'telemetry'", 'TSV').trim())
      .toBe('ReplacingMergeTree\ttoYYYYMM(toDateTime(intDiv(ts_ms, 1000)))\tdevice_id, journal_id, seq');
    expect(supportsInsertDeduplicationToken(version)).toBe(true);
  });

  it('accepts a deduplication token on an insert', () => {
    const token = batchDeduplicationToken('pi-07', 'j-3f9a', 11, 12);
    session.query(`INSERT INTO telemetry (${TELEMETRY_INSERT_COLUMNS.join(', ')}) SETTINGS insert_deduplication_token = '${token}' FORMAT JSONEachRow\n${ndjson([row(11), row(12)])}`);
    expect(session.query('SELECT count() FROM telemetry FINAL WHERE seq IN (11, 12)', 'TSV').trim()).toBe('2');
  });

  it('parses the cluster variant: replicated local tables and Distributed tables sharded by device', () => {
    const statements = clusterSchema({ cluster: 'fleet', database: 'fieldkit' });
    expect(statements).toHaveLength(4);
    for (const sql of statements) {
      // formatQuery parses without executing: there is no ZooKeeper or cluster here.
      const formatted = session.query(`SELECT formatQuery(${quoteSqlString(sql)})`, 'TSVRaw');
      expect(formatted).toContain('ON CLUSTER fleet');
    }
    expect(statements[0]).toContain("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/fieldkit/telemetry_local', '{replica}')");
    expect(statements[1]).toContain('Distributed(`fleet`, `fieldkit`, `telemetry_local`, cityHash64(device_id))');
  });
});

describe('schema names', () => {
  it('quotes plain identifiers and refuses anything that could smuggle SQL', () => {
    expect(quoteIdentifier('telemetry_2')).toBe('`telemetry_2`');
    expect(() => quoteIdentifier('x`; DROP TABLE t')).toThrow(/identifier/);
    expect(() => quoteIdentifier('1abc')).toThrow(/identifier/);
    expect(singleServerSchema({ database: 'fk', table: 't', lossTable: 'l' })[1]).toContain('CREATE TABLE IF NOT EXISTS `fk`.`l`');
  });

  it('knows which versions take insert_deduplication_token', () => {
    expect(supportsInsertDeduplicationToken('18.16.1')).toBe(false);
    expect(supportsInsertDeduplicationToken('22.1.3.7')).toBe(false);
    expect(supportsInsertDeduplicationToken('22.2.2.1')).toBe(true);
    expect(supportsInsertDeduplicationToken('26.7.2.1')).toBe(true);
    expect(supportsInsertDeduplicationToken('garbage')).toBe(false);
  });
});

function quoteSqlString(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}
