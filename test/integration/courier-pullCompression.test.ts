import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppServices } from '../../electron/app/appServices.ts';
import type * as AgentRpcClientModule from '../../electron/kernel/link/agentRpcClient.ts';
import { verifyJournalBatch } from '../../electron/kernel/link/verifyJournalBatch.ts';
import { storeFileName } from '../../electron/kernel/store/openStore.ts';
import { PullResultSchema, type PullResult } from '../../shared/courier.ts';
import { agentCliEntry, createAgentRpcRig, type AgentRpcRig } from '../support/agentRpcFixture.ts';
import { extractOlderRelease, type OlderRelease } from '../support/releaseBeforeCompression.ts';
import { makeTempDir } from '../support/tempDir.ts';

const records = 30_000;

/**
 * Compressed pulls are negotiated: the agent lists journal.read.zstd in its hello, the
 * laptop then offers zstd, the agent answers item by item. Each pairing of new and older
 * (the real code of the release before, from git history) still pulls every record.
 */
describe('compressed pulls, negotiated between agent and laptop', () => {
  const dir = makeTempDir();
  let rig: AgentRpcRig;
  let older: OlderRelease;

  beforeAll(() => {
    rig = createAgentRpcRig({ retention: { budget_bytes: 1024 * 1024 * 1024 } });
    rig.fill(records, { payloadBytes: 200 });
    older = extractOlderRelease();
  });

  afterAll(() => {
    older.remove();
    rig.remove();
    dir.remove();
  });

  /** A fresh laptop store pulling the rig's journal through `agentMain`; returns the pull's result and what it stored. */
  async function pullWith(name: string, agentMain: string): Promise<{ result: PullResult; held: number }> {
    const dataDir = join(dir.path, name);
    const services = await createAppServices({ dataDir, version: 'test' });
    try {
      const { device } = await services.handlers['devices.add']({ name, link: { kind: 'local', agentCommand: `${process.execPath} ${agentMain} --config ${rig.configPath} rpc` } });
      const record = await services.jobs.whenFinished((await services.handlers['courier.pull']({ id: device.id })).jobId);
      expect(record.error).toBeNull();
      const result = PullResultSchema.parse(record.result);
      const db = new Database(join(dataDir, storeFileName), { readonly: true });
      try {
        const row = db.prepare('SELECT count(DISTINCT seq) AS n FROM courier_records').get() as { n: number };
        return { result, held: row.n };
      } finally {
        db.close();
      }
    } finally {
      await services.close();
    }
  }

  it('new agent and new laptop: the batches cross the link zstd-compressed, every record stored once', async () => {
    const { result, held } = await pullWith('new-new', agentCliEntry);
    expect(result.journals[0]).toMatchObject({ new_records: records, contiguous_seq: records });
    expect(held).toBe(records);
    const transfer = result.transfer;
    expect(transfer?.compressedFrames).toBeGreaterThan(0);
    // The records are padded JSON: compressed they take a fraction of their size on the link.
    expect(transfer?.bytesIn ?? Infinity).toBeLessThan((transfer?.decompressedBytes ?? 0) / 4);
  });

  it('older agent and new laptop: nothing is offered (the older agent would refuse it), the batches come plain', async () => {
    const { result, held } = await pullWith('old-agent', older.agentMain);
    expect(result.journals[0]).toMatchObject({ new_records: records, contiguous_seq: records });
    expect(held).toBe(records);
    expect(result.transfer?.compressedFrames).toBe(0);
  });

  it('new agent and older laptop: the older client is never sent a frame type it does not know', async () => {
    const { createAgentRpcClient } = (await import(older.clientModule)) as typeof AgentRpcClientModule;
    const agent = rig.start();
    const client = createAgentRpcClient(agent, { timeoutMs: 30_000 });
    try {
      const hello = await client.call('hello', { client: 'fieldkit' });
      expect(hello.ok).toBe(true);
      // What the older courier asked for: no compression field.
      const stream = client.stream('journal.read', { journal_id: rig.journal().journalId, after_seq: 0, batch_records: 5000 }, { window: 4 });
      let received = 0;
      for await (const batch of stream) {
        expect(verifyJournalBatch(batch).ok).toBe(true);
        received += batch.count;
      }
      const end = await stream.result;
      expect(end.ok).toBe(true);
      expect(received).toBe(records);
      expect(client.diagnostics()).toMatchObject({ badFrames: 0, skippedBytes: 0, strayMessages: 0 });
    } finally {
      client.close();
      await agent.exited;
    }
  });
});

describe('a compressed frame whose content is corrupt', () => {
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

  it('is refused: the pull fails saying a frame was lost, nothing is stored, no custody is confirmed', async () => {
    const dataDir = join(dir.path, 'data');
    const services = await createAppServices({ dataDir, version: 'test' });
    try {
      const filter = join(import.meta.dirname, '../support/corruptCompressedFrames.ts');
      const agentCommand = `${process.execPath} ${agentCliEntry} --config ${rig.configPath} rpc | ${process.execPath} ${filter}`;
      const { device } = await services.handlers['devices.add']({ name: 'corrupting-link', link: { kind: 'local', agentCommand } });
      const record = await services.jobs.whenFinished((await services.handlers['courier.pull']({ id: device.id })).jobId);
      expect(record.state).toBe('failed');
      expect(record.error?.code).toBe('IO_ERROR');
      expect(record.error?.message).toMatch(/lost on the link/);
      const db = new Database(join(dataDir, storeFileName), { readonly: true });
      try {
        expect(db.prepare('SELECT count(*) AS n FROM courier_records').get()).toEqual({ n: 0 });
      } finally {
        db.close();
      }
      const journal = rig.journal();
      expect(journal.info().custody).toEqual([]);
    } finally {
      await services.close();
    }
  });
});
