/**
 * The agent's RPC server as a real child process on a pipe (real journal, health source
 * and config file), spoken to frame by frame: exact flow control, noise and damaged
 * frames on its input, malformed requests, and a link that closes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RpcMessage } from '../../shared/agentRpc.ts';
import type { JournalBatch } from '../../shared/journal.ts';
import { crc32c } from '../../shared/crc32c.ts';
import { encodeFrame, frameHeaderBytes } from '../../shared/rpcFrame.ts';
import { verifyJournalBatch } from '../../electron/kernel/link/verifyJournalBatch.ts';
import { createAgentRpcRig, type AgentRpcChild, type AgentRpcRig } from '../support/agentRpcFixture.ts';
import { rawRpcSession, type RawRpcSession } from '../support/rawRpcSession.ts';

const text = new TextEncoder();
const kernelLine = text.encode('[   12.345678] usb 1-1: new high-speed USB device number 2 using xhci_hcd\r\n');
const ansi = text.encode('\x1b[0m\x1b[1;32mpi@pi-07\x1b[0m:\x1b[1;34m~ $ \x1b[K');

function items(session: RawRpcSession, id: number): unknown[] {
  return session.of(id).flatMap((m) => (m.type === 'item' ? [m.item] : []));
}

function settle(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('agent RPC server over a pipe', () => {
  let rig: AgentRpcRig;
  let agent: AgentRpcChild;
  let session: RawRpcSession;
  let journalId = '';

  beforeAll(async () => {
    rig = createAgentRpcRig();
    // Priorities 1, 2, 3 in turn, so filtering is visible.
    rig.fill(2000, { priority: (i) => ((i % 3) + 1) as 1 | 2 | 3 });
    agent = rig.start();
    session = rawRpcSession(agent);
    // Noise before the very first frame: what a serial console shows before the agent starts.
    session.sendBytes(kernelLine);
    session.sendBytes(ansi);
    session.send({ type: 'request', id: 1, method: 'hello', params: {}, credit: 0 });
    const hello = await session.result(1);
    if (!hello.result.ok) throw new Error(`hello failed: ${JSON.stringify(hello)}`);
    journalId = (hello.result.value as { journal_id: string }).journal_id;
  });

  afterAll(() => {
    rig.remove();
  });

  it('skips noise before, between and inside frames and answers the next intact request', async () => {
    const damaged = encodeFrame({ type: 'request', id: 10, method: 'journal.info', params: {}, credit: 0 });
    session.sendBytes(Uint8Array.of(...kernelLine, ...damaged.subarray(0, 20), ...ansi, ...damaged.subarray(20)));
    session.sendBytes(Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff));
    session.send({ type: 'request', id: 11, method: 'journal.info', params: {}, credit: 0 });
    const answer = await session.result(11);
    expect(answer.result.ok).toBe(true);
    // The request with noise inside it was dropped, not misread.
    expect(session.of(10)).toEqual([]);
  });

  it('detects a flipped bit in a header and in a payload, and keeps serving', async () => {
    const inHeader = encodeFrame({ type: 'request', id: 20, method: 'journal.info', params: {}, credit: 0 });
    inHeader[9] = (inHeader[9] ?? 0) ^ 0x40;
    const inPayload = encodeFrame({ type: 'request', id: 21, method: 'journal.info', params: {}, credit: 0 });
    inPayload[frameHeaderBytes + 7] = (inPayload[frameHeaderBytes + 7] ?? 0) ^ 0x01;
    session.sendBytes(inHeader);
    session.sendBytes(inPayload);
    session.send({ type: 'request', id: 22, method: 'journal.info', params: {}, credit: 0 });
    await session.result(22);
    expect(session.of(20)).toEqual([]);
    expect(session.of(21)).toEqual([]);
    await session.waitFor('the faults in the agent log', () => /header_crc/.test(agent.stderr()) && /payload_crc/.test(agent.stderr()));
  });

  it('does not wait for a 2 GB frame or a truncated one: the next request is answered at once', async () => {
    // A header with a valid CRC claiming 2 GB: refused as corrupt, nothing allocated or awaited.
    const huge = new Uint8Array(frameHeaderBytes);
    const view = new DataView(huge.buffer);
    huge.set([0xf1, 0x4b, 0x01, 0xd7, 1, 1]);
    view.setUint32(8, 2 ** 31, true);
    view.setUint32(12, crc32c(huge, 0, 12), true);
    const truncated = encodeFrame({ type: 'request', id: 24, method: 'journal.info', params: {}, credit: 0 });
    const logFrom = agent.stderr().length;
    const logSince = (): string => agent.stderr().slice(logFrom);
    session.sendBytes(Uint8Array.of(...huge, ...truncated.subarray(0, truncated.length - 9)));
    session.send({ type: 'request', id: 25, method: 'journal.info', params: {}, credit: 0 });
    expect((await session.result(25, 3000)).result.ok).toBe(true);
    expect(session.of(24)).toEqual([]);
    // The cut frame is caught by its CRC (or as interrupted, when the next frame arrives separately).
    await session.waitFor('the refusals in the agent log', () => /header_field: frame length 2147483648/.test(logSince()) && /input (payload_crc|interrupted): /.test(logSince()));
  });

  it('answers bad requests with a named field, an unknown method, a reused id and a message without an id', async () => {
    session.send({ type: 'request', id: 30, method: 'journal.read', params: { journal_id: journalId, after_seq: -1 }, credit: 1 });
    session.send({ type: 'request', id: 31, method: 'journal.erase', params: {}, credit: 0 });
    session.send({ type: 'request', id: 32, method: 'hello', params: { client: 'x', color: 'red' }, credit: 0 });
    session.send({ type: 'request', id: 33, method: 'journal.read', params: { journal_id: 'another-journal', after_seq: 0 }, credit: 1 });
    session.send({ type: 'request', id: 34, method: 'custody.ack', params: { courier_id: 'laptop-1', journal_id: journalId, through_seq: 99_999 }, credit: 0 });
    session.send({ type: 'hello' });
    session.send({ type: 'request', id: 'seven', method: 'hello', params: {} });

    expect((await session.result(30)).result).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'params.after_seq' } });
    const unknown = await session.result(31);
    expect(unknown.result).toMatchObject({ ok: false, error: { code: 'METHOD_NOT_FOUND' } });
    if (!unknown.result.ok) expect(unknown.result.error.hint).toContain('journal.read');
    expect((await session.result(32)).result).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: expect.stringContaining('color') as unknown } });
    expect((await session.result(33)).result).toMatchObject({ ok: false, error: { code: 'NOT_FOUND', field: 'params.journal_id' } });
    expect((await session.result(34)).result).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'params.through_seq' } });
    await session.waitFor('two results without an id', () => session.messages.filter((m) => m.type === 'result' && m.id === null).length >= 2);
    const anonymous = session.messages.filter((m): m is RpcMessage & { type: 'result' } => m.type === 'result' && m.id === null);
    expect(anonymous.map((m) => m.result.ok)).toEqual([false, false]);
    expect(anonymous.map((m) => (m.result.ok ? '' : m.result.error.field))).toEqual(['type', 'id']);

    // An id already in flight is refused; the stream that holds it carries on.
    session.send({ type: 'request', id: 35, method: 'journal.read', params: { journal_id: journalId, after_seq: 0, batch_records: 10 }, credit: 0 });
    session.send({ type: 'request', id: 35, method: 'hello', params: {}, credit: 0 });
    const reused = await session.result(35);
    expect(reused.result).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'id' } });
    session.send({ type: 'cancel', id: 35 });
    await session.waitFor('the cancelled stream to end', () => session.of(35).filter((m) => m.type === 'result').length === 2);
    expect(items(session, 35)).toEqual([]);
  });

  it('sends exactly as many items as the credit granted, more only when granted, and stops on cancel', async () => {
    session.send({ type: 'request', id: 40, method: 'journal.read', params: { journal_id: journalId, after_seq: 0, batch_records: 100 }, credit: 3 });
    await session.waitFor('3 items', () => items(session, 40).length === 3);
    await settle(300); // the point: no fourth item comes without credit, however long we wait
    expect(items(session, 40)).toHaveLength(3);
    session.send({ type: 'credit', id: 40, n: 2 });
    await session.waitFor('5 items', () => items(session, 40).length === 5);
    await settle(300); // the point: nothing beyond the credit
    expect(items(session, 40)).toHaveLength(5);
    session.send({ type: 'cancel', id: 40 });
    const end = await session.result(40);
    expect(end.result).toEqual({ ok: true, value: { through_seq: 500, records: 500, more: true } });
    const batches = items(session, 40) as JournalBatch[];
    expect(batches.map((b) => [b.count, b.records[0]?.seq])).toEqual([
      [100, 1],
      [100, 101],
      [100, 201],
      [100, 301],
      [100, 401],
    ]);
    for (const batch of batches) expect(verifyJournalBatch(batch).ok).toBe(true);
  });

  it('reads with a limit, a priority filter and a byte budget per batch', async () => {
    session.send({ type: 'request', id: 50, method: 'journal.read', params: { journal_id: journalId, after_seq: 0, limit: 250, batch_records: 100 }, credit: 10 });
    expect((await session.result(50)).result).toEqual({ ok: true, value: { through_seq: 250, records: 250, more: true } });
    expect((items(session, 50) as JournalBatch[]).map((b) => b.count)).toEqual([100, 100, 50]);

    session.send({ type: 'request', id: 51, method: 'journal.read', params: { journal_id: journalId, after_seq: 1900, priorities: [1] }, credit: 10 });
    expect((await session.result(51)).result).toEqual({ ok: true, value: { through_seq: 1999, records: 33, more: false } });
    const safety = (items(session, 51) as JournalBatch[]).flatMap((b) => b.records);
    expect(safety.every((r) => r.priority === 1)).toBe(true);
    expect(safety[0]?.seq).toBe(1903);

    session.send({ type: 'request', id: 52, method: 'journal.read', params: { journal_id: journalId, after_seq: 1000, limit: 100, batch_bytes: 2000 }, credit: 100 });
    expect((await session.result(52)).result).toEqual({ ok: true, value: { through_seq: 1100, records: 100, more: true } });
    const small = items(session, 52) as JournalBatch[];
    expect(small.length).toBeGreaterThan(5);
    for (const batch of small) {
      expect(verifyJournalBatch(batch).ok).toBe(true);
      // The budget is reached by the last record of each batch, not before it.
      const payloadBytes = batch.records.slice(0, -1).reduce((n, r) => n + r.payload.length, 0);
      expect(payloadBytes).toBeLessThan(2000);
    }

    session.send({ type: 'request', id: 53, method: 'journal.read', params: { journal_id: journalId, after_seq: 2000 }, credit: 1 });
    expect((await session.result(53)).result).toEqual({ ok: true, value: { through_seq: 2000, records: 0, more: false } });
  });

  it('streams health samples only under credit, the newest one when credit comes late', async () => {
    session.send({ type: 'request', id: 60, method: 'health.watch', params: { interval_ms: 100 }, credit: 2 });
    await session.waitFor('2 samples', () => items(session, 60).length === 2);
    await settle(500); // the point: five sampling intervals pass, and no sample is sent without credit
    expect(items(session, 60)).toHaveLength(2);
    const before = Date.now();
    session.send({ type: 'credit', id: 60, n: 1 });
    await session.waitFor('a third sample', () => items(session, 60).length === 3);
    // Not a sample queued from half a second ago: one taken around when credit came.
    expect((items(session, 60)[2] as { at_ms: number }).at_ms).toBeGreaterThan(before - 250);
    session.send({ type: 'cancel', id: 60 });
    expect((await session.result(60)).result).toEqual({ ok: true, value: { samples: 3 } });
  });

  it('writes nothing but frames on its output', () => {
    expect(session.faults).toEqual([]);
  });

  it('ends when its input closes, even with a stream waiting for credit', async () => {
    session.send({ type: 'request', id: 70, method: 'journal.read', params: { journal_id: journalId, after_seq: 0, batch_records: 10 }, credit: 1 });
    await session.waitFor('the first item', () => items(session, 70).length === 1);
    agent.writable.end();
    expect(await agent.exited).toEqual({ code: 0, signal: null });
  });
});
