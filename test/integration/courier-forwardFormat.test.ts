/**
 * The forward's row format (TabSeparated, written by SQLite) and its pipeline, against
 * both generations: Debian's ClickHouse 18.16 and the current engine (chdb behind its HTTP
 * front). Every text column round-trips byte-exact whatever it holds (tabs, newlines, CR,
 * backslashes, `\N`, quotes, any Unicode), through batches with and without holes; a
 * batch's last bytes wait for the previous batch's mark; and a batch in flight when the
 * server dies is never marked.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { openClickHouse } from '../../electron/courier/clickhouseConnection.ts';
import { createCourierStore } from '../../electron/courier/courierStore.ts';
import { openStore, storeFileName } from '../../electron/kernel/store/openStore.ts';
import { FORWARD_BATCH_ROWS, type ClickHouseSettings } from '../../shared/clickhouseSettings.ts';
import { telemetryTableDdl, TELEMETRY_INSERT_COLUMNS } from '../../shared/clickhouseSchema.ts';
import { ForwardResultSchema } from '../../shared/courier.ts';
import type { JournalRecord } from '../../shared/journal.ts';
import { startChdbHttp, type ChdbHttp } from '../support/chdbHttp.ts';
import { startClickHouseServer, type ClickHouseServer } from '../support/clickhouseServer.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { waitFor } from '../support/waitFor.ts';

/** Text a TabSeparated writer can get wrong, each in some column of some row. */
const NASTY = [
  'tab\there', 'newline\nthere', 'crlf\r\nend\r', 'back\\slash\\', '\\N', '\\t is not a tab', 'quote"\'`', '温度 🌡️ ñ é',
  '{"a":"x\\ty\\n\\u0000","b":"\\\\"}', 'trailing backslash\\', '', '\t', '\n', '\\', '\u0001\u001f\u007f', 'x'.repeat(300) + '\t\\\n',
];
const DEVICE = 'pi\\ü-7';
const JOURNAL = 'j\\1';
const TOTAL = 30_000;
/** Not held: the batch around it has a hole, and is read row by row. */
const MISSING_SEQ = 15_000;

function recordAt(seq: number): JournalRecord {
  const pick = (k: number): string => NASTY[(seq + k) % NASTY.length] ?? '';
  return {
    device_id: DEVICE, journal_id: JOURNAL, seq, ts_ms: Date.UTC(2026, 0, 15) + seq, recv_ms: Date.UTC(2026, 0, 15) + seq + 2, priority: 3,
    kind: `k${pick(1)}`, model_version: pick(2), payload: `${pick(0)}#${seq}`,
  };
}

function siteAt(batch: number): string {
  return `site ${NASTY[batch] ?? ''}`;
}

/** A laptop store holding the records, as pulls leave them (three pulls, each with its own site and via). */
function fillStore(dataDir: string): void {
  const db = openStore(dataDir);
  try {
    const courier = createCourierStore(db);
    courier.noteJournal({ device_id: DEVICE, journal_id: JOURNAL, device_ref: null, site: siteAt(0), agent_last_seq: TOTAL, agent_first_seq: 1, clock_offset_ms: 0, now: Date.now() });
    for (let b = 0; b < 3; b++) {
      const records: JournalRecord[] = [];
      for (let seq = b * 10_000 + 1; seq <= (b + 1) * 10_000; seq++) if (seq !== MISSING_SEQ) records.push(recordAt(seq));
      courier.storeBatch({ records, site: siteAt(b), via: `courier:${NASTY[b + 3] ?? ''}`, clockOffsetMs: -3 - b, pullId: `pull_${b}`, now: Date.now(), contiguousThrough: null });
    }
  } finally {
    db.close();
  }
}

const TEXT_COLUMNS = ['device_id', 'journal_id', 'kind', 'model_version', 'payload', 'site', 'via'] as const;
const NUMBER_COLUMNS = ['seq', 'ts_ms', 'recv_ms', 'priority', 'clock_offset_ms'] as const;
const hex = (text: string): string => Buffer.from(text, 'utf8').toString('hex').toUpperCase();

/** The rows as the server must hold them: text columns as hex of their UTF-8 bytes, one TSV line each. */
function expectedRows(): string {
  const lines: string[] = [];
  for (let seq = 1; seq <= TOTAL; seq++) {
    if (seq === MISSING_SEQ) continue;
    const r = recordAt(seq);
    const b = Math.floor((seq - 1) / 10_000);
    const row = { ...r, site: siteAt(b), via: `courier:${NASTY[b + 3] ?? ''}`, clock_offset_ms: -3 - b };
    lines.push([...NUMBER_COLUMNS.map((c) => String(row[c])), ...TEXT_COLUMNS.map((c) => hex(row[c]))].join('\t'));
  }
  return lines.join('\n');
}

const selectRows = (table: string): string =>
  `SELECT ${NUMBER_COLUMNS.join(', ')}, ${TEXT_COLUMNS.map((c) => `hex(${c})`).join(', ')} FROM ${table} FINAL ORDER BY seq`;

type Generation = { name: string; url: () => string; rows: (sql: string) => Promise<string> };

describe('forward row format: byte-exact on both generations', () => {
  let server: ClickHouseServer;
  let modern: ChdbHttp;
  let dir: ReturnType<typeof makeTempDir>;
  let services: AppServices;
  beforeAll(async () => {
    server = await startClickHouseServer();
    modern = await startChdbHttp();
    dir = makeTempDir('fieldkit-forward-format-');
    fillStore(join(dir.path, 'data'));
    services = await createAppServices({ dataDir: join(dir.path, 'data'), version: 'test' });
  });
  afterAll(async () => {
    await services.close();
    await modern.stop();
    await server.stop();
    dir.remove();
  });

  const generations: Generation[] = [
    // Over HTTP: the rows are megabytes of hex, more than clickhouse-client's output buffer here takes.
    { name: '18.16', url: () => server.url, rows: (sql) => server.query(sql) },
    { name: 'current', url: () => modern.url, rows: (sql) => Promise.resolve(modern.sql(sql)) },
  ];
  it.each(generations)('every text column round-trips byte-exact into $name, across batches with and without holes', async (generation) => {
    const table = `format_${generation.name === '18.16' ? 'old' : 'new'}`;
    const writable = new Database(join(dir.path, 'data', storeFileName));
    writable.prepare('UPDATE courier_records SET forwarded_ms = NULL').run();
    writable.close();
    await services.handlers['settings.clickhouse.set']({ url: generation.url(), table, batchRows: FORWARD_BATCH_ROWS.min });
    const { jobId } = await services.handlers['courier.forward']({ retryForSeconds: 30 });
    const job = await services.jobs.whenFinished(jobId);
    expect(job.error).toBeNull();
    expect(ForwardResultSchema.parse(job.result)).toMatchObject({ forwarded: TOTAL - 1, batches: 3, quarantined: 0 });
    expect((await generation.rows(selectRows(table))).trimEnd()).toBe(expectedRows());
  });
});

describe('forward pipeline on ClickHouse 18.16', () => {
  let server: ClickHouseServer;
  beforeAll(async () => {
    server = await startClickHouseServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  const line = (seq: number): string => `pi\tj\t${seq}\t1\t2\t3\tk\tm\tpayload ${seq}\ts\tv\t0\n`;
  const body = Array.from({ length: 1000 }, (_, i) => line(i + 1)).join('');
  const settings = (url: string): ClickHouseSettings => ({ url, user: 'default', database: 'default', table: 'telemetry', cluster: null, batchRows: 50_000, tls: { caFile: null, certFile: null, keyFile: null } });

  it("holds a batch's last bytes until it is released: nothing lands before", async () => {
    await server.query(telemetryTableDdl({ table: 'gated' }));
    const connection = openClickHouse({ settings: settings(server.url), password: '' });
    try {
      let open: () => void = () => undefined;
      const release = new Promise<void>((resolve) => (open = resolve));
      let onHead: () => void = () => undefined;
      const headSent = new Promise<void>((resolve) => (onHead = resolve));
      const inserting = connection.insertRows('gated', TELEMETRY_INSERT_COLUMNS, 'TabSeparated', body, null, { release, headSent: onHead });
      await headSent;
      // All but the last bytes are with the server (18.16 starts an HTTP insert only once its body is complete).
      expect((await server.client('SELECT count() FROM gated')).trim()).toBe('0');
      open();
      await inserting;
      expect((await server.client('SELECT count(), uniqExact(seq) FROM gated')).trim()).toBe('1000\t1000');
    } finally {
      await connection.close();
    }
  });

  it('abandons the insert when the release is refused (the mark before it failed): nothing stored, the reason said', async () => {
    await server.query(telemetryTableDdl({ table: 'refused' }));
    const connection = openClickHouse({ settings: settings(server.url), password: '' });
    try {
      let refuse: (reason: Error) => void = () => undefined;
      const release = new Promise<void>((_resolve, reject) => (refuse = reject));
      let onHead: () => void = () => undefined;
      const headSent = new Promise<void>((resolve) => (onHead = resolve));
      const inserting = connection.insertRows('refused', TELEMETRY_INSERT_COLUMNS, 'TabSeparated', body, null, { release, headSent: onHead });
      await headSent;
      refuse(new Error('disk full while marking'));
      await expect(inserting).rejects.toThrow('disk full while marking');
      // The connection is gone without the last bytes: the server has nothing to store.
      expect((await server.client('SELECT count() FROM refused')).trim()).toBe('0');
    } finally {
      await connection.close();
    }
  });

  it('never marks the pipelined batch in flight when the server dies: every marked row is in ClickHouse, and the next forward ends each row once', async () => {
    const total = 200_000;
    const batchRows = FORWARD_BATCH_ROWS.min;
    const dir = makeTempDir('fieldkit-forward-killed-');
    const dataDir = join(dir.path, 'data');
    const db = openStore(dataDir);
    const courier = createCourierStore(db);
    courier.noteJournal({ device_id: 'pi-9', journal_id: 'j-9', device_ref: null, site: 's', agent_last_seq: total, agent_first_seq: 1, clock_offset_ms: 0, now: Date.now() });
    const records = Array.from({ length: total }, (_, i): JournalRecord => ({ device_id: 'pi-9', journal_id: 'j-9', seq: i + 1, ts_ms: Date.UTC(2026, 0, 15) + i, recv_ms: Date.UTC(2026, 0, 15) + i, priority: 3, kind: 'k', model_version: 'm', payload: `{"i":${i}}` }));
    courier.storeBatch({ records, site: 's', via: 'courier:t', clockOffsetMs: 0, pullId: 'pull_k', now: Date.now(), contiguousThrough: total });
    const marked = db.prepare('SELECT seq FROM courier_records WHERE forwarded_ms IS NOT NULL ORDER BY seq').pluck();
    const services = await createAppServices({ dataDir, version: 'test' });
    try {
      await services.handlers['settings.clickhouse.set']({ url: server.url, table: 'killed', batchRows });
      const { jobId } = await services.handlers['courier.forward']({ retryForSeconds: 2 });
      // Two batches marked: the pipeline has the third on the wire, the fourth read.
      await waitFor(() => marked.all().length >= 2 * batchRows, { timeoutMs: 60_000, what: 'two batches marked forwarded' });
      await server.kill();
      const failed = await services.jobs.whenFinished(jobId);
      expect(failed.error).toMatchObject({ code: 'UNAVAILABLE' });
      await server.start();
      const inClickHouse = new Set((await server.query('SELECT DISTINCT seq FROM killed')).trim().split('\n').map(Number));
      const markedSeqs = marked.all() as number[];
      expect(markedSeqs.length).toBeLessThan(total);
      expect(markedSeqs.filter((seq) => !inClickHouse.has(seq))).toEqual([]);

      const { jobId: again } = await services.handlers['courier.forward']({ retryForSeconds: 30 });
      const resumed = await services.jobs.whenFinished(again);
      expect(resumed.error).toBeNull();
      expect(ForwardResultSchema.parse(resumed.result).forwarded).toBe(total - markedSeqs.length);
      const [raw, final, distinct] = (await server.query('SELECT (SELECT count() FROM killed), count(), uniqExact(seq) FROM killed FINAL')).trim().split('\t').map(Number);
      expect([final, distinct]).toEqual([total, total]);
      // At most one batch was sent twice: the one acknowledged but not yet marked, or the one in flight.
      expect((raw ?? 0) - total).toBeLessThanOrEqual(batchRows);
    } finally {
      await services.close();
      db.close();
      dir.remove();
    }
  });
});
