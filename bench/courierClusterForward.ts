/**
 * The courier forward job through the Distributed table of the test cluster (ZooKeeper and
 * four 18.16 servers on loopback, 2 shards × 2 replicas; test/support/clickhouseCluster.ts),
 * printed after the single-server forward line, against `clickhouse-client` inserting the
 * same JSON lines into the same Distributed table with the same `insert_distributed_sync=1`
 * (acknowledged once every shard wrote its rows), in the same run. Rows of 16 devices, so
 * both shards take a share.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAppServices } from '../electron/app/appServices.ts';
import { createCourierStore } from '../electron/courier/courierStore.ts';
import { openStore } from '../electron/kernel/store/openStore.ts';
import { clusterSchema, healthSchema, TELEMETRY_INSERT_COLUMNS } from '../shared/clickhouseSchema.ts';
import { ForwardResultSchema } from '../shared/courier.ts';
import type { JournalRecord } from '../shared/journal.ts';
import { startClickHouseCluster, type ClusterNode } from '../test/support/clickhouseCluster.ts';
import { makeTempDir } from '../test/support/tempDir.ts';

const devices = 16;
const rowsPerDevice = 20_000;
const rows = devices * rowsPerDevice;
const payloadBytes = 200;
const rounds = 2;

/** A laptop store holding `rowsPerDevice` records of each of `devices` devices, as pulls leave them. */
function fillLaptopStore(dataDir: string): void {
  const db = openStore(dataDir);
  try {
    const courier = createCourierStore(db);
    const start = Date.UTC(2026, 0, 15);
    const pad = 'x'.repeat(payloadBytes - 60);
    for (let d = 1; d <= devices; d++) {
      const deviceId = `bench-pi-${d}`;
      courier.noteJournal({ device_id: deviceId, journal_id: 'j-bench', device_ref: null, site: 'bench', agent_last_seq: rowsPerDevice, agent_first_seq: 1, clock_offset_ms: 0, now: Date.now() });
      const batch: JournalRecord[] = [];
      for (let seq = 1; seq <= rowsPerDevice; seq++) {
        const priority = seq % 97 === 0 ? 1 : seq % 5 === 0 ? 2 : 3;
        batch.push({
          device_id: deviceId, journal_id: 'j-bench', seq, ts_ms: start + seq * 10, recv_ms: start + seq * 10 + 2, priority,
          kind: priority === 1 ? 'safety.stop' : priority === 2 ? 'gps.fix' : 'inference', model_version: 'yolo-8.1',
          payload: JSON.stringify({ i: seq, latency_ms: 20 + (seq % 30), pad }),
        });
      }
      courier.storeBatch({ records: batch, site: 'bench', via: 'courier:local', clockOffsetMs: 3, pullId: 'pull_bench', now: Date.now(), contiguousThrough: rowsPerDevice });
    }
  } finally {
    db.close();
  }
}

/** The exact lines the forward sends, for the baseline to insert. */
function exportLines(dataDir: string, file: string): void {
  const db = openStore(dataDir);
  try {
    const lines = db.prepare(`SELECT ${TELEMETRY_INSERT_COLUMNS.join(', ')} FROM courier_records ORDER BY device_id, journal_id, seq`).all().map((r) => JSON.stringify(r));
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

async function createTables(entry: ClusterNode, cluster: string, database: string): Promise<void> {
  await entry.query(`CREATE DATABASE IF NOT EXISTS ${database} ON CLUSTER ${cluster}`);
  // The health tables too: a forward that finds one missing would create them all inside its timing.
  for (const statement of [...clusterSchema({ cluster, database }), ...healthSchema({ database }, { cluster, database })]) await entry.query(statement);
}

export async function benchCourierClusterForward(): Promise<void> {
  const dir = makeTempDir('fieldkit-bench-cluster-');
  const cluster = await startClickHouseCluster({ dedupWindow: 100 });
  const entry = cluster.nodes[0] as ClusterNode;
  const dataDir = join(dir.path, 'data');
  try {
    fillLaptopStore(dataDir);
    const ndjson = join(dir.path, 'rows.ndjson');
    exportLines(dataDir, ndjson);
    const services = await createAppServices({ dataDir, version: 'bench' });
    try {
      const clientSeconds: number[] = [];
      const forwardSeconds: number[] = [];
      for (let round = 0; round < rounds; round++) {
        // A fresh database each round, tables created up front: both sides measure inserts only.
        const baseline = `baseline_${round}`;
        await createTables(entry, cluster.name, baseline);
        const start = performance.now();
        execFileSync('sh', ['-c', `clickhouse-client --host 127.0.0.1 --port ${entry.tcpPort} --insert_distributed_sync=1 --query "INSERT INTO ${baseline}.telemetry (${TELEMETRY_INSERT_COLUMNS.join(', ')}) FORMAT JSONEachRow" < ${ndjson}`]);
        clientSeconds.push((performance.now() - start) / 1000);

        const database = `forward_${round}`;
        await createTables(entry, cluster.name, database);
        await services.handlers['settings.clickhouse.set']({ url: entry.url, database, table: 'telemetry', cluster: cluster.name, batchRows: 50_000 });
        resetForwarded(dataDir);
        const forwardStart = performance.now();
        const { jobId } = await services.handlers['courier.forward']({ retryForSeconds: 60 });
        const record = await services.jobs.whenFinished(jobId);
        forwardSeconds.push((performance.now() - forwardStart) / 1000);
        if (record.state !== 'done') throw new Error(`forward ${record.state}: ${record.error?.message ?? ''}`);
        const result = ForwardResultSchema.parse(record.result);
        if (result.forwarded !== rows) throw new Error(`forwarded ${result.forwarded} of ${rows}`);
        const landed = (await entry.client(`SELECT count() FROM ${database}.telemetry FINAL`)).trim();
        if (landed !== String(rows)) throw new Error(`the cluster holds ${landed} of ${rows}`);
      }
      const best = (values: number[]) => Math.min(...values);
      const rate = (s: number) => `${Math.round(rows / s).toLocaleString('en-US')} rows/s`;
      const ours = best(forwardSeconds);
      const theirs = best(clientSeconds);
      console.log(`courier forward through the Distributed table of a 2 × 2 ClickHouse 18.16 cluster on loopback, ${rows.toLocaleString('en-US')} rows of ${devices} devices, best of ${rounds}:`);
      console.log(`  clickhouse-client INSERT into the Distributed table  ${rate(theirs).padStart(16)}  (baseline: native protocol, same lines, insert_distributed_sync=1)`);
      console.log(`  fieldkit forward through the Distributed table      ${rate(ours).padStart(16)}  = ${(theirs / ours).toFixed(2)}x clickhouse-client`);
    } finally {
      await services.close();
    }
  } finally {
    await cluster.stop();
    dir.remove();
  }
}
