/**
 * The courier against a real ClickHouse cluster: ZooKeeper and four 18.16 servers on
 * loopback, 2 shards × 2 replicas (test/support/clickhouseCluster.ts), the schema fieldkit
 * generates created ON CLUSTER by the first forward (ReplicatedReplacingMergeTree per shard,
 * a Distributed table over them sharded by cityHash64(device_id)), every insert through the
 * Distributed table on one node. One cluster for the whole file.
 *
 * - a replica SIGKILLed mid-forward and restarted: every record once on both replicas of
 *   its shard under FINAL, none on the other shard; reconcile across shards says complete;
 * - beyond the insert-dedup window (2 blocks here; 100 by default on 18.16): the same
 *   month-old records forwarded twice end once under FINAL, and reconcile, judging by the
 *   rows present, says complete;
 * - a central delete: reconcile names the records gone, the next forward sends them again
 *   without deduplication, and they are back exactly once.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from '../../electron/kernel/api/dispatch.ts';
import { GONE_FROM_CLICKHOUSE } from '../../electron/courier/reconcile.ts';
import { storeFileName } from '../../electron/kernel/store/openStore.ts';
import { ForwardResultSchema, type ReconcileJournal } from '../../shared/courier.ts';
import { syntheticEvents } from '../support/agentEvents.ts';
import { startClickHouseCluster, type ClickHouseCluster, type ClusterNode } from '../support/clickhouseCluster.ts';
import { startCourierRig, type CourierRig } from '../support/courierRig.ts';
import { waitFor } from '../support/waitFor.ts';

const DATABASE = 'fieldkit';
const MONTH_MS = 31 * 24 * 3600 * 1000;

let cluster: ClickHouseCluster;
let entry: ClusterNode;
beforeAll(async () => {
  cluster = await startClickHouseCluster({ dedupWindow: 2 });
  entry = cluster.nodes[0] as ClusterNode;
  // The central team's database; fieldkit creates its tables in it.
  await entry.query(`CREATE DATABASE IF NOT EXISTS ${DATABASE} ON CLUSTER ${cluster.name}`);
}, 120_000);
afterAll(async () => {
  await cluster.stop();
});

const sql = (text: string): string => `'${text.replaceAll("'", "\\'")}'`;

/** Device ids that cityHash64 puts on shard 01 and on shard 02 (shard = hash % 2, in remote_servers order). */
async function deviceIdsByShard(): Promise<{ '01': string; '02': string }> {
  const candidates = Array.from({ length: 20 }, (_, i) => `pi-cl${i + 1}`);
  const rows = (await entry.query(`SELECT id, cityHash64(id) % 2 FROM (SELECT arrayJoin([${candidates.map(sql).join(', ')}]) AS id)`)).trim().split('\n').map((l) => l.split('\t'));
  const first = (slot: string): string => rows.find((r) => r[1] === slot)?.[0] ?? '';
  return { '01': first('0'), '02': first('1') };
}

/** Waits until every running replica has fetched everything its shard's log holds. */
async function syncReplicas(): Promise<void> {
  for (const node of cluster.nodes) {
    // A restarted replica is read-only until its old ZooKeeper session expires: wait for that too.
    await waitFor(async () => {
      await node.query(`SYSTEM SYNC REPLICA ${DATABASE}.telemetry_local`);
      return true;
    }, { timeoutMs: 60_000, what: `${node.name} to sync its replica`, intervalMs: 250 });
  }
}

/** Per node: rows of the device in its local table under FINAL, and distinct seqs. */
async function finalByNode(deviceId: string): Promise<Record<string, [number, number]>> {
  const out: Record<string, [number, number]> = {};
  for (const node of cluster.nodes) {
    const [n = '', d = ''] = (await node.client(`SELECT count(), uniqExact(seq) FROM ${DATABASE}.telemetry_local FINAL WHERE device_id = ${sql(deviceId)}`)).trim().split('\t');
    out[node.name] = [Number(n), Number(d)];
  }
  return out;
}

/** What each node of `shard` should hold of a device with `total` records, and the others nothing. */
function expectedByNode(shard: string, total: number): Record<string, [number, number]> {
  return Object.fromEntries(cluster.nodes.map((n) => [n.name, n.shard === shard ? [total, total] : [0, 0]]));
}

async function reconcileOne(rig: CourierRig): Promise<ReconcileJournal> {
  const [journal] = (await rig.services.handlers['courier.reconcile']({ maxRanges: 10 })).journals;
  if (journal === undefined) throw new Error('reconcile returned no journal');
  return journal;
}

describe('a courier forwarding through the Distributed table of a 2 × 2 cluster', () => {
  // Shard 02's device has the most: its forward must still be running when a replica is killed after its first batch.
  const totals = { '01': 40_000, '02': 150_000 } as const;
  const rigs: Record<'01' | '02', CourierRig> = {} as Record<'01' | '02', CourierRig>;
  const ids = { '01': '', '02': '' };
  beforeAll(async () => {
    Object.assign(ids, await deviceIdsByShard());
    for (const shard of ['01', '02'] as const) {
      // Month-old records: what a courier carries back from a site it visits rarely.
      const rig = await startCourierRig({ deviceId: ids[shard] });
      rigs[shard] = rig;
      rig.ingest(syntheticEvents(totals[shard], { startMs: Date.now() - MONTH_MS }));
      expect((await rig.pull()).state).toBe('done');
      await rig.services.handlers['settings.clickhouse.set']({ url: entry.url, database: DATABASE, table: 'telemetry', cluster: cluster.name, batchRows: 10_000 });
    }
  }, 120_000);
  afterAll(async () => {
    await Promise.all(Object.values(rigs).map((rig) => rig.close()));
  });
  // A test that fails with a replica down must not leave it down for the tests after it.
  afterEach(async () => {
    for (const node of cluster.nodes) if (!node.running) await node.start();
  }, 120_000);

  it('creates the schema ON CLUSTER, survives a replica SIGKILLed mid-forward, and every record is once on both replicas of its shard', async () => {
    const rig = rigs['02'];
    const total = totals['02'];
    const started = await dispatch(rig.services.handlers, 'courier.forward', {});
    if (!started.ok) throw new Error(started.error.message);
    const { jobId } = started.value as { jobId: string };
    // Mid-insert: the shard-02 replica the Distributed table is writing a batch to is the one to kill.
    // A batch's remote insert lasts milliseconds, so a kill can land just after the replica
    // acknowledged it: the next batch then goes to the other replica without any error. Such a
    // miss is seen (no warning, and the forward moves on to the survivor); the replica is then
    // started again and the next insert is the target, until a kill lands mid-insert.
    const shard02 = cluster.nodes.filter((n) => n.shard === '02');
    const nodeFailed = (): boolean => (rig.services.jobs.get(jobId)?.log ?? []).some((l) => l.level === 'warn' && l.message.startsWith('A ClickHouse node behind'));
    const finished = (): boolean => rig.services.jobs.get(jobId)?.endedAt != null;
    const inserting = async (node: ClusterNode): Promise<boolean> =>
      node.running && (await node.query(`SELECT count() FROM system.processes WHERE query LIKE '%INSERT INTO %telemetry_local%' AND query NOT LIKE '%system.processes%'`)).trim() !== '0';
    let victim: ClusterNode | null = null;
    while (!nodeFailed() && !finished()) {
      if (victim !== null) await victim.start();
      victim = await waitFor(async () => {
        for (const node of shard02) if (await inserting(node)) return node;
        if (finished()) throw new Error('the forward ended before a kill landed mid-insert');
        return null;
      }, { timeoutMs: 60_000, what: 'a batch to be on its way into a shard-02 replica', intervalMs: 5 });
      await victim.kill();
      expect(rig.held().pending).toBeGreaterThan(0);
      const survivor = shard02.find((n) => n !== victim) as ClusterNode;
      await waitFor(async () => nodeFailed() || finished() || (await inserting(survivor)), { timeoutMs: 60_000, what: 'the forward to fail over, or to move on to the surviving replica', intervalMs: 5 });
    }
    if (victim === null) throw new Error('no replica was killed');
    const job = await rig.services.jobs.whenFinished(jobId);
    expect(job.error).toBeNull();
    const result = ForwardResultSchema.parse(job.result);
    expect(result).toMatchObject({ forwarded: total, pending: 0, quarantined: 0 });
    // The insert the replica died in failed as the cluster's failure, not the data's: waited and sent again, never split.
    expect(result.retries).toBeGreaterThan(0);
    expect(job.log.some((l) => l.level === 'warn' && l.message.startsWith('A ClickHouse node behind') && l.message.includes('failed during the insert'))).toBe(true);
    // Tables of the generated schema, on every node, by the forward's own ON CLUSTER DDL.
    for (const node of cluster.nodes.filter((n) => n !== victim)) {
      expect((await node.query(`SELECT name, engine FROM system.tables WHERE database = '${DATABASE}' AND name LIKE 'telemetry%' ORDER BY name`)).trim().split('\n')).toEqual([
        'telemetry\tDistributed', 'telemetry_local\tReplicatedReplacingMergeTree', 'telemetry_loss\tDistributed', 'telemetry_loss_local\tReplicatedReplacingMergeTree',
      ]);
    }

    await victim.start();
    const other = rigs['01'];
    expect(ForwardResultSchema.parse((await other.forward()).result)).toMatchObject({ forwarded: totals['01'], pending: 0 });
    await syncReplicas();
    expect(await finalByNode(ids['02'])).toEqual(expectedByNode('02', total));
    expect(await finalByNode(ids['01'])).toEqual(expectedByNode('01', totals['01']));
    // The Distributed table answers across shards: each device once under FINAL.
    expect((await entry.client(`SELECT device_id, count() FROM ${DATABASE}.telemetry FINAL GROUP BY device_id ORDER BY device_id`)).trim().split('\n').sort()).toEqual(
      [`${ids['01']}\t${totals['01']}`, `${ids['02']}\t${total}`].sort(),
    );
    for (const shard of ['01', '02'] as const) {
      const journal = await reconcileOne(rigs[shard]);
      const n = totals[shard];
      expect(journal).toMatchObject({ status: 'complete', missing_records: 0, expected_through: n, clickhouse: { distinct: n, min_seq: 1, max_seq: n } });
    }
  }, 180_000);

  it('forwards the same month-old records twice, beyond the dedup window: once under FINAL, and reconcile judges by the rows present', async () => {
    const rig = rigs['01'];
    const total = totals['01'];
    // Two more blocks on the shard (other writers), then the window of 2 holds none of the first forward's.
    const shard01 = cluster.nodes.find((n) => n.shard === '01') as ClusterNode;
    for (const seq of [1, 2]) await shard01.query(`INSERT INTO ${DATABASE}.telemetry_local (device_id, journal_id, seq, ts_ms) VALUES ('another-writer', 'j', ${seq}, 0)`);
    await waitFor(async () => Number((await entry.query(`SELECT count() FROM system.zookeeper WHERE path = '/clickhouse/tables/01/${DATABASE}/telemetry_local/blocks'`)).trim()) <= 2, {
      timeoutMs: 30_000,
      what: 'the replicated table to forget block hashes beyond its window of 2',
      intervalMs: 200,
    });
    // A laptop restored from a backup taken before that forward: it holds the same records as not yet forwarded.
    const store = new Database(join(rig.dataDir, storeFileName));
    try {
      store.prepare(`UPDATE courier_records SET forwarded_ms = NULL`).run();
    } finally {
      store.close();
    }
    const again = ForwardResultSchema.parse((await rig.forward()).result);
    expect(again).toMatchObject({ forwarded: total, pending: 0 });
    await syncReplicas();
    expect(await finalByNode(ids['01'])).toEqual(expectedByNode('01', total));
    const journal = await reconcileOne(rig);
    expect(journal).toMatchObject({ status: 'complete', missing_records: 0, clickhouse: { distinct: total, min_seq: 1, max_seq: total } });
    expect(journal.duplicates_awaiting_merge).toBe(journal.clickhouse.count - total);
  }, 120_000);

  it('after a central delete, reconcile names the records gone and requeues them; the next forward brings them back exactly once', async () => {
    const rig = rigs['02'];
    const total = totals['02'];
    const holder = cluster.nodes.find((n) => n.shard === '02') as ClusterNode;
    await holder.query(`ALTER TABLE ${DATABASE}.telemetry_local DELETE WHERE device_id = ${sql(ids['02'])} AND seq BETWEEN 1001 AND 3000`);
    // The mutation is replicated: wait until both replicas of the shard have applied it.
    for (const node of cluster.nodes.filter((n) => n.shard === '02')) {
      // Listed and done: a replica that has not fetched the mutation from ZooKeeper yet lists none, and "none pending" would pass before it applied anything.
      await waitFor(async () => (await node.query(`SELECT count(), countIf(is_done = 0) FROM system.mutations WHERE database = '${DATABASE}' AND table = 'telemetry_local'`)).trim() === '1\t0', {
        timeoutMs: 60_000,
        what: `${node.name} to apply the delete`,
        intervalMs: 100,
      });
    }
    expect(await finalByNode(ids['02'])).toEqual(expectedByNode('02', total - 2000));

    const gone = await reconcileOne(rig);
    expect(gone).toMatchObject({ status: 'missing', missing_records: 2000, missing_by_reason: { not_yet_forwarded: 2000, unknown: 0 } });
    expect(gone.missing).toEqual([{ from_seq: 1001, to_seq: 3000, count: 2000, reason: 'not_yet_forwarded', detail: GONE_FROM_CLICKHOUSE }]);
    expect(gone.summary).toBe(`${ids['02']}: seq 1001-3000 missing (not yet forwarded: ${GONE_FROM_CLICKHOUSE})`);
    expect(rig.held()).toMatchObject({ n: total, pending: 2000 });

    const resent = await rig.forward();
    expect(ForwardResultSchema.parse(resent.result)).toMatchObject({ forwarded: 2000, pending: 0 });
    expect(resent.log.some((l) => /sending again the records ClickHouse confirmed once/.test(l.message))).toBe(true);
    await syncReplicas();
    expect(await finalByNode(ids['02'])).toEqual(expectedByNode('02', total));
    expect(await reconcileOne(rig)).toMatchObject({ status: 'complete', missing_records: 0, clickhouse: { distinct: total } });
    // Nothing left to send: the resend is done, and the next forward is an ordinary one.
    expect(ForwardResultSchema.parse((await rig.forward()).result)).toMatchObject({ forwarded: 0 });
  }, 120_000);
});
