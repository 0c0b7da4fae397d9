/**
 * serveRpc in this process over in-memory streams, with the real journal, health source
 * and config store: what needs a hand on the output stream or on the dependencies
 * (a reader that stops reading, a frame bound, a journal that fails underneath).
 */
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../shared/rpcFrame.ts';
import { serveRpc, type ServeRpcOptions } from '../../agent/rpc/rpcServer.ts';
import type { RpcDeps } from '../../agent/rpc/rpcApi.ts';
import { createAgentRpcClient, type AgentRpcClient } from '../../electron/kernel/link/agentRpcClient.ts';
import { verifyJournalBatch } from '../../electron/kernel/link/verifyJournalBatch.ts';
import { createAgentRpcRig, type AgentRpcRig } from '../support/agentRpcFixture.ts';
import { rawRpcSession } from '../support/rawRpcSession.ts';
import { waitFor } from '../support/waitFor.ts';

function settle(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

type InProcess = { rig: AgentRpcRig; deps: RpcDeps; input: PassThrough; output: PassThrough; served: Promise<void>; logs: string[] };

const rigs: AgentRpcRig[] = [];
afterEach(() => {
  for (const rig of rigs.splice(0)) rig.remove();
});

function serve(options: ServeRpcOptions & { output?: PassThrough; deps?: (deps: RpcDeps) => RpcDeps } = {}, fill = 0): InProcess {
  const rig = createAgentRpcRig();
  rigs.push(rig);
  if (fill > 0) rig.fill(fill);
  const real = rig.deps();
  const deps = options.deps ? options.deps(real) : real;
  const input = new PassThrough();
  const output = options.output ?? new PassThrough();
  const logs: string[] = [];
  const served = serveRpc(input, output, deps, { log: (line) => logs.push(line), ...options });
  return { rig, deps, input, output, served, logs };
}

function clientOf(p: InProcess): AgentRpcClient {
  return createAgentRpcClient({ readable: p.output, writable: p.input }, { timeoutMs: 5_000 });
}

describe('serveRpc in-process', () => {
  it('waits for the output to drain: a reader that stops reading stops the agent, whatever the credit', async () => {
    // A small buffer on the link, and nobody reading it yet.
    const p = serve({ output: new PassThrough({ highWaterMark: 1024 }) }, 3000);
    const journalId = p.deps.journal.journalId;
    p.input.write(encodeFrame({ type: 'request', id: 1, method: 'journal.read', params: { journal_id: journalId, after_seq: 0, batch_records: 100 }, credit: 1000 }));
    // The pause is the point: without back-pressure all 30 batches (about 900 kB) would sit in memory by now.
    await settle(300);
    const oneBatchBytes = 100 * 300;
    expect(p.output.readableLength + p.output.writableLength).toBeLessThan(3 * oneBatchBytes);
    const session = rawRpcSession({ readable: p.output, writable: p.input });
    const end = await session.result(1);
    expect(end.result).toEqual({ ok: true, value: { through_seq: 3000, records: 3000, more: false } });
    expect(session.of(1).filter((m) => m.type === 'item')).toHaveLength(30);
    p.input.end();
    await p.served;
  });

  it('splits batches to fit the frame bound, and names a record too large for any frame', async () => {
    const p = serve({ maxPayloadBytes: 64 * 1024 });
    const journal = p.deps.journal;
    journal.append(Array.from({ length: 20 }, (_, i) => ({ priority: 2 as const, kind: 'camera.frame', payload: { i, blob: 'b'.repeat(20_000) } })), Date.now());
    const client = createAgentRpcClient({ readable: p.output, writable: p.input }, { maxPayloadBytes: 64 * 1024, timeoutMs: 5_000 });
    const stream = client.stream('journal.read', { journal_id: journal.journalId, after_seq: 0 });
    const counts: number[] = [];
    for await (const batch of stream) {
      expect(verifyJournalBatch(batch).ok).toBe(true);
      counts.push(batch.count);
    }
    expect(counts.reduce((a, b) => a + b, 0)).toBe(20);
    expect(Math.max(...counts)).toBeLessThanOrEqual(3);
    expect(await stream.result).toEqual({ ok: true, value: { through_seq: 20, records: 20, more: false } });

    journal.append([{ priority: 1, kind: 'camera.frame', payload: { blob: 'B'.repeat(100_000) } }], Date.now());
    const tooBig = client.stream('journal.read', { journal_id: journal.journalId, after_seq: 20 });
    for await (const batch of tooBig) expect(batch).toBeUndefined();
    expect(await tooBig.result).toMatchObject({ ok: false, error: { code: 'INTERNAL', message: expect.stringContaining('seq 21 is too large') as unknown } });
    client.close();
    await p.served;
  });

  it('refuses requests beyond its in-flight bound with UNAVAILABLE', async () => {
    const p = serve({ maxActiveRequests: 2 }, 100);
    const client = clientOf(p);
    const journalId = p.deps.journal.journalId;
    const a = client.stream('health.watch', { interval_ms: 100 }, { window: 1 });
    const b = client.stream('journal.read', { journal_id: journalId, after_seq: 0, batch_records: 10 }, { window: 1 });
    // Both are in flight (each sent its first item and waits for credit): a third request is refused.
    await waitFor(() => client.diagnostics().framesIn >= 2, { timeoutMs: 10_000, what: 'a first item of both streams' });
    expect(await client.call('journal.info', {})).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE', message: expect.stringContaining('2 requests in flight') as unknown } });
    a.cancel();
    b.cancel();
    expect((await a.result).ok && (await b.result).ok).toBe(true);
    expect((await client.call('journal.info', {})).ok).toBe(true);
    client.close();
    await p.served;
  });

  it('turns a failing journal into an INTERNAL result with a hint, and keeps serving', async () => {
    const p = serve({}, 10);
    const client = clientOf(p);
    p.deps.journal.close();
    const failed = await client.call('journal.info', {});
    expect(failed).toMatchObject({ ok: false, error: { code: 'INTERNAL', message: expect.stringContaining('journal.info failed in the agent') as unknown } });
    if (!failed.ok) expect(failed.error.hint).toContain('agent log');
    expect(p.logs.some((line) => line.includes('journal.info (id'))).toBe(true);
    expect((await client.call('config.get', {})).ok).toBe(true);
    client.close();
    await p.served;
  });

  it('refuses to send a response that breaks the contract, naming the field', async () => {
    const p = serve({
      deps: (real) => ({ ...real, health: { ...real.health, sample: async () => ({ ...(await real.health.sample()), cpu_pct: 250 }) } }),
    });
    const client = clientOf(p);
    expect(await client.call('health.get', {})).toMatchObject({ ok: false, error: { code: 'INTERNAL', field: 'value.cpu_pct' } });
    client.close();
    await p.served;
  });

  it('resolves when the input ends, stopping streams that wait for credit or watch health', async () => {
    const p = serve({}, 50);
    const client = clientOf(p);
    const read = client.stream('journal.read', { journal_id: p.deps.journal.journalId, after_seq: 0, batch_records: 5 }, { window: 1 });
    const watch = client.stream('health.watch', { interval_ms: 100 }, { window: 1 });
    // Both wait for credit (each sent its first item) when the input ends.
    await waitFor(() => client.diagnostics().framesIn >= 2, { timeoutMs: 10_000, what: 'a first item of both streams' });
    p.input.end();
    await p.served;
    expect(await read.result).toMatchObject({ ok: true, value: { records: 5, more: true } });
    expect(await watch.result).toMatchObject({ ok: true });
  });
});
