/**
 * The courier forward job (in its worker: rows read from the laptop store, JSONEachRow,
 * gzip, HTTP, marked forwarded batch by batch) into a local ClickHouse 18.16, against
 * `clickhouse-client --query "INSERT … FORMAT JSONEachRow"` inserting the same rows (the
 * same JSON lines) over the native protocol, in the same run. Target: 100,000 rows/s.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAppServices } from '../electron/app/appServices.ts';
import { createCourierStore } from '../electron/courier/courierStore.ts';
import { openStore } from '../electron/kernel/store/openStore.ts';
import { telemetryLossTableDdl, telemetryTableDdl, TELEMETRY_INSERT_COLUMNS } from '../shared/clickhouseSchema.ts';
import { ForwardResultSchema } from '../shared/courier.ts';
import type { JournalRecord } from '../shared/journal.ts';
import { startClickHouseServer } from '../test/support/clickhouseServer.ts';
import { makeTempDir } from '../test/support/tempDir.ts';

const rows = 500_000;
const payloadBytes = 200;
const rounds = 3;

/** A laptop store holding `rows` records of one journal, as a pull leaves them. */
export function fillLaptopStore(dataDir: string): void {
  const db = openStore(dataDir);
  try {
    const courier = createCourierStore(db);
    const start = Date.UTC(2026, 0, 15);
    courier.noteJournal({ device_id: 'bench-pi', journal_id: 'j-bench', device_ref: null, site: 'bench', agent_last_seq: rows, agent_first_seq: 1, clock_offset_ms: 0, now: Date.now() });
    const pad = 'x'.repeat(payloadBytes - 60);
    for (let from = 1; from <= rows; from += 50_000) {
      const batch: JournalRecord[] = [];
      for (let seq = from; seq < from + 50_000 && seq <= rows; seq++) {
        const priority = seq % 97 === 0 ? 1 : seq % 5 === 0 ? 2 : 3;
        batch.push({
          device_id: 'bench-pi', journal_id: 'j-bench', seq, ts_ms: start + seq * 10, recv_ms: start + seq * 10 + 2, priority,
          kind: priority === 1 ? 'safety.stop' : priority === 2 ? 'gps.fix' : 'inference', model_version: 'yolo-8.1',
          payload: JSON.stringify({ i: seq, latency_ms: 20 + (seq % 30), pad }),
        });
      }
      courier.storeBatch({ records: batch, site: 'bench', via: 'courier:local', clockOffsetMs: 3, pullId: 'pull_bench', now: Date.now(), contiguousThrough: batch.at(-1)?.seq ?? null });
    }
  } finally {
    db.close();
  }
}

/** The exact lines the forward sends, for the baseline to insert. */
function exportLines(dataDir: string, file: string): void {
  const db = openStore(dataDir);
  try {
    const lines = db
      .prepare(`SELECT ${TELEMETRY_INSERT_COLUMNS.join(', ')} FROM courier_records ORDER BY device_id, journal_id, seq`)
      .all()
      .map((r) => JSON.stringify(r));
    writeFileSync(file, lines.join('\n') + '\n');
  } finally {
    db.close();
  }
}

function resetForwarded(dataDir: string): void {
  const db = openStore(dataDir);
  try {
    db.prepare('UPDATE courier_records SET forwarded_ms = NULL').run();
  } finally {
    db.close();
  }
}

export async function benchCourierForward(): Promise<void> {
  const dir = makeTempDir('fieldkit-bench-forward-');
  const server = await startClickHouseServer();
  const dataDir = join(dir.path, 'data');
  try {
    fillLaptopStore(dataDir);
    const ndjson = join(dir.path, 'rows.ndjson');
    exportLines(dataDir, ndjson);
    const services = await createAppServices({ dataDir, version: 'bench' });
    try {
      const clientSeconds: number[] = [];
      const forwardSeconds: number[] = [];
      let batches = 0;
      let split = '';
      for (let round = 0; round < rounds; round++) {
        const baseline = `baseline_${round}`;
        await server.query(telemetryTableDdl({ table: baseline }));
        const start = performance.now();
        execFileSync('sh', ['-c', `clickhouse-client --host 127.0.0.1 --port ${server.tcpPort} --query "INSERT INTO ${baseline} (${TELEMETRY_INSERT_COLUMNS.join(', ')}) FORMAT JSONEachRow" < ${ndjson}`]);
        clientSeconds.push((performance.now() - start) / 1000);

        // A fresh table each round, created up front so both sides measure inserts only.
        const table = `forward_${round}`;
        await server.query(telemetryTableDdl({ table }));
        await server.query(telemetryLossTableDdl({ lossTable: `${table}_loss` }));
        await services.handlers['settings.clickhouse.set']({ url: server.url, table, batchRows: 50_000 });
        resetForwarded(dataDir);
        const forwardStart = performance.now();
        const { jobId } = await services.handlers['courier.forward']({ retryForSeconds: 60 });
        const record = await services.jobs.whenFinished(jobId);
        forwardSeconds.push((performance.now() - forwardStart) / 1000);
        if (record.state !== 'done') throw new Error(`forward ${record.state}: ${record.error?.message ?? ''}`);
        const result = ForwardResultSchema.parse(record.result);
        if (result.forwarded !== rows) throw new Error(`forwarded ${result.forwarded} of ${rows}`);
        batches = result.batches;
        split = record.log.find((l) => l.message.startsWith('Records took'))?.message ?? split;
        const landed = (await server.client(`SELECT count() FROM ${table} FINAL`)).trim();
        if (landed !== String(rows)) throw new Error(`ClickHouse holds ${landed} of ${rows}`);
      }
      const best = (values: number[]) => Math.min(...values);
      const rate = (s: number) => `${Math.round(rows / s).toLocaleString('en-US')} rows/s`;
      const ours = best(forwardSeconds);
      const theirs = best(clientSeconds);
      console.log(`courier forward into local ClickHouse 18.16, ${rows.toLocaleString('en-US')} rows of ~${payloadBytes}-byte payloads, best of ${rounds}:`);
      console.log(`  clickhouse-client INSERT … FORMAT JSONEachRow  ${rate(theirs).padStart(16)}  (baseline: native protocol, same lines)`);
      console.log(`  fieldkit forward (${batches} batches, job incl.)    ${rate(ours).padStart(16)}  = ${(theirs / ours).toFixed(2)}x clickhouse-client`);
      console.log(`  last round's split: ${split}`);
    } finally {
      await services.close();
    }
  } finally {
    await server.stop();
    dir.remove();
  }
}
