import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppServices } from '../../electron/app/appServices.ts';
import { createAgentRpcClient } from '../../electron/kernel/link/agentRpcClient.ts';
import type * as AgentRpcClientModule from '../../electron/kernel/link/agentRpcClient.ts';
import { verifyJournalBatch } from '../../electron/kernel/link/verifyJournalBatch.ts';
import { storeFileName } from '../../electron/kernel/store/openStore.ts';
import { agentCapabilities } from '../../shared/agentRpc.ts';
import { PullResultSchema, type PullResult } from '../../shared/courier.ts';
import { batchHashInput } from '../../shared/journal.ts';
import { agentCliEntry, createAgentRpcRig, type AgentRpcRig } from '../support/agentRpcFixture.ts';
import { extractOlderRelease, releaseBeforeLines, type OlderRelease } from '../support/releaseBeforeCompression.ts';
import { makeTempDir } from '../support/tempDir.ts';

const records = 12_000;

/** A fresh laptop store pulling through `agentCommand`; returns the job's record and what it stored. */
async function pullThrough(dataDir: string, name: string, agentCommand: string): Promise<{ state: string; error: { code: string; message: string } | null; result: PullResult | null; held: number }> {
  const services = await createAppServices({ dataDir, version: 'test' });
  try {
    const { device } = await services.handlers['devices.add']({ name, link: { kind: 'local', agentCommand } });
    const record = await services.jobs.whenFinished((await services.handlers['courier.pull']({ id: device.id })).jobId);
    const db = new Database(join(dataDir, storeFileName), { readonly: true });
    try {
      const row = db.prepare('SELECT count(DISTINCT seq) AS n FROM courier_records').get() as { n: number };
      return { state: record.state, error: record.error, result: record.state === 'done' ? PullResultSchema.parse(record.result) : null, held: row.n };
    } finally {
      db.close();
    }
  } finally {
    await services.close();
  }
}

/**
 * Batches as the canonical lines they are hashed as, negotiated: the agent lists
 * journal.read.lines in its hello, the laptop then asks for encoding 'lines'. Each pairing of
 * new and older (the real code of the release before, from git history) still pulls every record.
 */
describe('pulls with batches as canonical lines, negotiated between agent and laptop', () => {
  const dir = makeTempDir();
  let rig: AgentRpcRig;
  let older: OlderRelease;

  beforeAll(() => {
    rig = createAgentRpcRig({ retention: { budget_bytes: 1024 * 1024 * 1024 } });
    rig.fill(records, { payloadBytes: 200 });
    older = extractOlderRelease(releaseBeforeLines);
  });

  afterAll(() => {
    older.remove();
    rig.remove();
    dir.remove();
  });

  it('a new agent offers lines and sends each batch as exactly the text its SHA-256 is over', async () => {
    const agent = rig.start();
    const client = createAgentRpcClient(agent, { timeoutMs: 30_000 });
    try {
      const hello = await client.call('hello', { client: 'fieldkit' });
      expect(hello.ok && hello.value.capabilities).toContain(agentCapabilities.journalReadLines);
      const stream = client.stream('journal.read', { journal_id: rig.journal().journalId, after_seq: 0, batch_records: 5000, encoding: 'lines' }, { window: 4 });
      let received = 0;
      let next = 1;
      for await (const item of stream) {
        if (!('lines' in item)) throw new Error('a records batch, not lines');
        expect(createHash('sha256').update(item.lines).digest('hex')).toBe(item.sha256);
        const verified = verifyJournalBatch(item);
        if (!verified.ok) throw new Error(verified.error.message);
        // The lines are the canonical hash input of the records they decode to.
        expect(batchHashInput(verified.value.records)).toBe(item.lines);
        expect(verified.value.records[0]?.seq).toBe(next);
        next += verified.value.records.length;
        received += item.count;
      }
      expect((await stream.result).ok).toBe(true);
      expect(received).toBe(records);
    } finally {
      client.close();
      await agent.exited;
    }
  });

  it('new agent and new laptop: every record stored once', async () => {
    const pulled = await pullThrough(join(dir.path, 'new-new'), 'new-new', `${process.execPath} ${agentCliEntry} --config ${rig.configPath} rpc`);
    expect(pulled.error).toBeNull();
    expect(pulled.result?.journals[0]).toMatchObject({ new_records: records, contiguous_seq: records });
    expect(pulled.held).toBe(records);
  });

  it('older agent and new laptop: lines are not asked for (the older agent would refuse the field), records come as before', async () => {
    const pulled = await pullThrough(join(dir.path, 'old-agent'), 'old-agent', `${process.execPath} ${older.agentMain} --config ${rig.configPath} rpc`);
    expect(pulled.error).toBeNull();
    expect(pulled.result?.journals[0]).toMatchObject({ new_records: records, contiguous_seq: records });
    expect(pulled.held).toBe(records);
  });

  it('new agent and older laptop: asked for no encoding, the agent sends records the older client verifies', async () => {
    const { createAgentRpcClient: createOlderClient } = (await import(older.clientModule)) as typeof AgentRpcClientModule;
    const agent = rig.start();
    const client = createOlderClient(agent, { timeoutMs: 30_000 });
    try {
      expect((await client.call('hello', { client: 'fieldkit' })).ok).toBe(true);
      const stream = client.stream('journal.read', { journal_id: rig.journal().journalId, after_seq: 0, batch_records: 5000 }, { window: 4 });
      let received = 0;
      for await (const batch of stream) {
        expect('records' in batch && !('lines' in batch)).toBe(true);
        expect(verifyJournalBatch(batch).ok).toBe(true);
        received += batch.count;
      }
      expect((await stream.result).ok).toBe(true);
      expect(received).toBe(records);
      expect(client.diagnostics()).toMatchObject({ badFrames: 0, skippedBytes: 0, strayMessages: 0 });
    } finally {
      client.close();
      await agent.exited;
    }
  });
});

describe('a batch of lines changed on the way', () => {
  const dir = makeTempDir();
  let rig: AgentRpcRig;

  beforeAll(() => {
    rig = createAgentRpcRig({ retention: { budget_bytes: 1024 * 1024 * 1024 } });
    rig.fill(2000, { payloadBytes: 200 });
  });

  afterAll(() => {
    rig.remove();
    dir.remove();
  });

  it('fails its SHA-256 check: the pull fails, nothing is stored, no custody is confirmed', async () => {
    const filter = join(import.meta.dirname, '../support/corruptBatchLines.ts');
    const pulled = await pullThrough(join(dir.path, 'data'), 'corrupting-link', `${process.execPath} ${agentCliEntry} --config ${rig.configPath} rpc | ${process.execPath} ${filter}`);
    expect(pulled.state).toBe('failed');
    expect(pulled.error?.code).toBe('VERIFICATION_FAILED');
    expect(pulled.error?.message).toMatch(/does not match its SHA-256/);
    expect(pulled.held).toBe(0);
    expect(rig.journal().info().custody).toEqual([]);
  });
});
