import Database from 'better-sqlite3';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppServices } from '../../electron/app/appServices.ts';
import { storeFileName } from '../../electron/kernel/store/openStore.ts';
import { PullResultSchema } from '../../shared/courier.ts';
import { agentCliEntry, createAgentRpcRig, type AgentRpcRig } from '../support/agentRpcFixture.ts';
import { makeTempDir } from '../support/tempDir.ts';

/** Five batches of 20,000 (the batch size of a network pull): four custody acks during the read. */
const records = 100_000;

/**
 * Custody is acknowledged while the pull goes on: the laptop stores a batch, sends
 * custody.ack for it, and takes the next batch without waiting for the answer (waiting
 * stalled it once a batch, since the agent answers between producing batches). A relay
 * holds every custody answer until the laptop carries on; custody still ends exact.
 */
describe('custody acks during a pull', () => {
  const dir = makeTempDir();
  let rig: AgentRpcRig;

  beforeAll(() => {
    rig = createAgentRpcRig({ retention: { budget_bytes: 1024 * 1024 * 1024 } });
    rig.fill(records, { payloadBytes: 100 });
  });

  afterAll(() => {
    rig.remove();
    dir.remove();
  });

  it('do not hold up the next batch, and custody ends exactly at what the laptop stored', async () => {
    const log = join(dir.path, 'released.log');
    writeFileSync(log, '');
    const relay = join(import.meta.dirname, '../support/holdCustodyAnswers.ts');
    const services = await createAppServices({ dataDir: join(dir.path, 'data'), version: 'test' });
    try {
      const agentCommand = `${process.execPath} ${relay} ${log} ${process.execPath} ${agentCliEntry} --config ${rig.configPath} rpc`;
      const { device } = await services.handlers['devices.add']({ name: 'pi-acks', link: { kind: 'local', agentCommand } });
      const record = await services.jobs.whenFinished((await services.handlers['courier.pull']({ id: device.id })).jobId);
      expect(record.error).toBeNull();
      expect(PullResultSchema.parse(record.result).journals[0]).toMatchObject({ new_records: records, contiguous_seq: records });
    } finally {
      await services.close();
    }
    // The laptop took a further batch (granting credit as it went) while a custody.ack was
    // unanswered. Credit goes every second batch taken, and one ack is in flight at most, so
    // with answers held this shows at the second batch; a laptop that waits shows it never.
    const carriedOn = readFileSync(log, 'utf8').split('\n').filter((line) => line === 'carried on');
    expect(carriedOn.length).toBeGreaterThanOrEqual(1);
    const db = new Database(join(dir.path, 'data', storeFileName), { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n, count(DISTINCT seq) AS d, max(seq) AS hi FROM courier_records').get()).toEqual({ n: records, d: records, hi: records });
      expect(db.prepare('SELECT custody_acked_seq AS acked FROM courier_journals').get()).toEqual({ acked: records });
    } finally {
      db.close();
    }
    expect(Math.max(0, ...rig.journal().info().custody.map((c) => c.through_seq))).toBe(records);
  }, 120_000);
});
