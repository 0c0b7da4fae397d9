import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGroupCommitter } from '../../agent/ingest/groupCommit.ts';
import { startHttpIngest, type HttpIngest } from '../../agent/ingest/httpIngest.ts';
import { createIngestMetrics, type IngestMetrics } from '../../agent/ingest/ingestMetrics.ts';
import type { Journal } from '../../agent/journal/journalApi.ts';
import { JournalFullError } from '../../agent/journal/journalErrors.ts';
import { openJournal } from '../../agent/journal/openJournal.ts';
import { silentLogger } from '../../agent/jsonLog.ts';
import type { IngestEvent } from '../../shared/journal.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { mountTinyFilesystem, type TinyFilesystem } from '../support/tinyFilesystem.ts';

type Agent = { journal: Journal; ingest: HttpIngest; metrics: IngestMetrics; url: string };

describe('agent ingest under pressure and faults', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  let tiny: TinyFilesystem;
  beforeAll(() => {
    tiny = mountTinyFilesystem(8);
  });
  afterAll(() => {
    tiny.remove();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function startAgent(options: { dir?: string; budgetBytes?: number; maxPendingRequests?: number }): Promise<Agent> {
    let dir = options.dir;
    if (dir === undefined) {
      const temp = makeTempDir('fieldkit-ingest-');
      cleanups.push(() => { temp.remove(); });
      dir = temp.path;
    }
    const journal = openJournal({ path: join(dir, 'journal.db'), deviceId: 'pi-07', budgetBytes: options.budgetBytes ?? 1 << 30 });
    cleanups.push(() => { journal.close(); });
    const metrics = createIngestMetrics();
    const ingest = await startHttpIngest({
      host: '127.0.0.1',
      port: 0,
      journal,
      committer: createGroupCommitter(journal),
      metrics,
      limits: { maxEventBytes: 64 * 1024, maxBatchEvents: 10_000, maxPendingRequests: options.maxPendingRequests ?? 64 },
      agentVersion: 'test',
      log: silentLogger(),
    });
    cleanups.push(() => ingest.close());
    return { journal, ingest, metrics, url: ingest.url };
  }

  async function post(agent: Agent, events: unknown[]): Promise<{ status: number; body: Record<string, unknown>; retryAfter: string | null }> {
    const res = await fetch(`${agent.url}/v1/events`, { method: 'POST', headers: { 'Content-Type': 'application/x-ndjson' }, body: events.map((e) => JSON.stringify(e)).join('\n') });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, retryAfter: res.headers.get('retry-after') };
  }

  it('answers 429 with Retry-After beyond the pending bound, and keeps every batch it acknowledged', async () => {
    const agent = await startAgent({ maxPendingRequests: 1 });
    const { stdout } = await promisify(execFile)(process.execPath, ['test/support/ingestLoad.ts', `${agent.url}/v1/events`, '50', '200']);
    const responses = (JSON.parse(stdout) as { status: number; retry_after: string | null; body: Record<string, unknown> }[]).map((r) => ({ ...r, retryAfter: r.retry_after }));
    const busy = responses.filter((r) => r.status === 429);
    const accepted = responses.filter((r) => r.status === 200);
    expect(busy.length).toBeGreaterThan(0);
    expect(accepted.length).toBeGreaterThan(0);
    expect(busy.length + accepted.length).toBe(50);
    for (const r of busy) {
      expect(r.retryAfter).toBe('1');
      expect(r.body.error).toMatchObject({ code: 'UNAVAILABLE' });
    }
    expect(agent.metrics.rejected.get({ reason: 'backpressure' })).toBe(busy.length);
    expect(agent.journal.info().records).toBe(accepted.length * 200);
    const records = agent.journal.read({ after_seq: 0, limit: 100_000, max_bytes: 1 << 30 });
    for (const r of accepted) {
      const first = records[Number(r.body.first_seq) - 1];
      expect(first?.seq).toBe(r.body.first_seq);
      expect(records[Number(r.body.last_seq) - 1]?.seq).toBe(r.body.last_seq);
    }
  });

  it('answers 507 when the budget holds only unconfirmed safety records, and accepts again once a courier confirms', async () => {
    const agent = await startAgent({ budgetBytes: 20_000 });
    const safety = (n: number) => Array.from({ length: n }, (_, i) => ({ priority: 1, kind: 'safety', payload: { i, pad: 'p'.repeat(100) } }));
    let last: Awaited<ReturnType<typeof post>> | null = null;
    for (let i = 0; i < 30; i++) {
      last = await post(agent, safety(10));
      if (last.status !== 200) break;
    }
    expect(last?.status).toBe(507);
    expect(last?.body.error).toMatchObject({ code: 'UNAVAILABLE' });
    expect((last?.body.error as { hint: string }).hint).toMatch(/courier/);
    expect(agent.metrics.rejected.get({ reason: 'journal_full' })).toBe(1);
    const before = agent.journal.info();
    expect(before.losses).toBe(0);
    agent.journal.ackCustody('laptop-a', before.last_seq, Date.now());
    const after = await post(agent, safety(10));
    expect(after.status).toBe(200);
    expect(after.body.first_seq).toBe(before.last_seq + 1);
    expect(agent.journal.info().losses).toBe(0);
  });

  it('answers 503 with Retry-After on a full disk, keeps what it acknowledged, and accepts again when space returns', async () => {
    const agent = await startAgent({ dir: tiny.mountPoint });
    const batch = (tag: string) => Array.from({ length: 50 }, (_, i) => ({ priority: 2, kind: 'state', payload: { tag, i, pad: 'p'.repeat(900) } }));
    const first = await post(agent, batch('before'));
    expect(first.status).toBe(200);
    tiny.fill();
    let refused: Awaited<ReturnType<typeof post>> | null = null;
    let lastAcked = Number(first.body.last_seq);
    for (let i = 0; i < 200; i++) {
      const res = await post(agent, batch('filling'));
      if (res.status !== 200) {
        refused = res;
        break;
      }
      lastAcked = Number(res.body.last_seq);
    }
    expect(refused?.status).toBe(503);
    expect(refused?.retryAfter).toBe('5');
    expect(refused?.body.error).toMatchObject({ code: 'IO_ERROR' });
    expect(agent.metrics.rejected.get({ reason: 'storage_error' })).toBe(1);
    expect(agent.journal.info().last_seq).toBe(lastAcked);
    tiny.free();
    const again = await post(agent, batch('after'));
    expect(again.status).toBe(200);
    expect(again.body.first_seq).toBe(lastAcked + 1);
    expect(agent.journal.read({ after_seq: 0, limit: 100_000, max_bytes: 1 << 30 }).map((r) => r.seq)).toEqual(Array.from({ length: lastAcked + 50 }, (_, i) => i + 1));
  });

  it('commits batches submitted together in one transaction, and a batch that cannot fit does not refuse the others', async () => {
    const dir = makeTempDir('fieldkit-group-');
    cleanups.push(() => { dir.remove(); });
    const journal = openJournal({ path: join(dir.path, 'journal.db'), deviceId: 'pi-07', budgetBytes: 50_000 });
    cleanups.push(() => { journal.close(); });
    const commits: number[] = [];
    const committer = createGroupCommitter(journal, { onCommit: (events) => commits.push(events) });
    const small = (n: number): IngestEvent[] => Array.from({ length: n }, (_, i) => ({ priority: 1, kind: 'k', payload: i }));
    const results = await Promise.all([1, 2, 3, 4].map((n) => committer.submit(small(n))));
    expect(results).toEqual([
      { first_seq: 1, last_seq: 1, count: 1 },
      { first_seq: 2, last_seq: 3, count: 2 },
      { first_seq: 4, last_seq: 6, count: 3 },
      { first_seq: 7, last_seq: 10, count: 4 },
    ]);
    expect(commits).toEqual([10]);
    const huge: IngestEvent[] = Array.from({ length: 600 }, () => ({ priority: 1, kind: 'k', payload: 'x'.repeat(100) }));
    const settled = await Promise.allSettled([committer.submit(small(2)), committer.submit(huge), committer.submit(small(3))]);
    expect(settled[0]).toEqual({ status: 'fulfilled', value: { first_seq: 11, last_seq: 12, count: 2 } });
    expect(settled[1].status === 'rejected' && settled[1].reason).toBeInstanceOf(JournalFullError);
    expect(settled[2]).toEqual({ status: 'fulfilled', value: { first_seq: 13, last_seq: 15, count: 3 } });
  });
});
