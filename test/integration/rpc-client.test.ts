/**
 * The laptop's RPC client against the real agent RPC server in a child process: every
 * method over the local link, flow control with a slow consumer, cancel, timeouts, a link
 * that dies mid-stream, and a link that adds noise, damages a frame or echoes.
 */
import { readFileSync } from 'node:fs';
import { arch, hostname } from 'node:os';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HealthSampleSchema } from '../../shared/health.ts';
import type { JournalBatch, JournalLinesBatch } from '../../shared/journal.ts';
import { frameMagic } from '../../shared/rpcFrame.ts';
import { createAgentRpcClient, type AgentRpcClient } from '../../electron/kernel/link/agentRpcClient.ts';
import { shellQuote } from '../../electron/kernel/link/shellQuote.ts';
import { createLocalLink } from '../../electron/kernel/link/localLink.ts';
import { verifyJournalBatch } from '../../electron/kernel/link/verifyJournalBatch.ts';
import { agentVersion } from '../../agent/version.ts';
import { agentRpcArgs, createAgentRpcRig, fixtureBootId, type AgentRpcChild, type AgentRpcRig } from '../support/agentRpcFixture.ts';
import { recordsBatches } from '../support/recordsBatch.ts';

const text = new TextEncoder();
const kernelLine = text.encode('[   12.345678] usb 1-1: new high-speed USB device number 2 using xhci_hcd\r\n');
const ansi = text.encode('\x1b[0m\x1b[1;31mUnder-voltage detected!\x1b[0m');

function settle(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function expectOk<T>(result: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.error.message}`);
  return result.value;
}

/** Positions where a frame starts in `chunk` (the magic never occurs inside our JSON frames). */
function frameStarts(chunk: Uint8Array): number[] {
  const starts: number[] = [];
  for (let i = chunk.indexOf(frameMagic[0] ?? 0); i >= 0 && i + 3 < chunk.length; i = chunk.indexOf(frameMagic[0] ?? 0, i + 1)) {
    if (chunk[i + 1] === frameMagic[1] && chunk[i + 2] === frameMagic[2] && chunk[i + 3] === frameMagic[3]) starts.push(i);
  }
  return starts;
}

/** The agent's stdout, passed through `tamper` on its way to the client: a link with a mind of its own. */
function tamperedLink(agent: AgentRpcChild, tamper: (chunk: Buffer) => Buffer): { readable: PassThrough; writable: NodeJS.WritableStream } {
  const readable = new PassThrough();
  agent.readable.on('data', (chunk: Buffer) => readable.write(tamper(chunk)));
  agent.readable.on('end', () => readable.end());
  return { readable, writable: agent.writable };
}

describe('agent RPC client, every method over the local link', () => {
  let rig: AgentRpcRig;
  let client: AgentRpcClient;
  let closeLink: () => Promise<unknown> = () => Promise.resolve();

  beforeAll(async () => {
    rig = createAgentRpcRig({
      // A budget smaller than what is filled: retention drops the oldest and records the loss.
      retention: { budget_bytes: 300_000 },
      uplink: { url: 'http://127.0.0.1:8123', password: 's3cret' },
    });
    rig.fill(1500, { perTransaction: 100 });
    const link = createLocalLink();
    const stream = await link.openStream([process.execPath, ...agentRpcArgs(rig.configPath)].map(shellQuote).join(' '));
    client = createAgentRpcClient(stream, { timeoutMs: 10_000 });
    closeLink = () => {
      client.close();
      stream.close();
      return stream.exit;
    };
  });

  afterAll(async () => {
    // The agent must have exited before its files go.
    await closeLink();
    rig.remove();
  });

  it('hello: versions, identity, clock and boot id', async () => {
    const before = Date.now();
    const hello = expectOk(await client.call('hello', { client: 'fieldkit-test' }));
    const after = Date.now();
    expect(hello).toMatchObject({ protocol_version: 1, agent_version: agentVersion, device_id: 'pi-07', site: 'north-field', model_version: 'yolov8n-2026.01' });
    expect(hello).toMatchObject({ hostname: hostname(), arch: arch(), boot_id: fixtureBootId });
    expect(hello.clock_ms).toBeGreaterThanOrEqual(before);
    expect(hello.clock_ms).toBeLessThanOrEqual(after);
    expect(hello.uptime_s).toBeGreaterThan(0);
    const info = expectOk(await client.call('journal.info', {}));
    expect(info.journals.map((j) => j.journal_id)).toEqual([hello.journal_id]);
  });

  it('journal.info, journal.read, loss.list: everything held arrives verified, and the gap is explained', async () => {
    const [info] = expectOk(await client.call('journal.info', {})).journals;
    if (!info) throw new Error('no journal');
    expect(info.last_seq).toBe(1500);
    expect(info.first_seq).toBeGreaterThan(1);
    expect(info.losses).toBeGreaterThan(0);

    const stream = client.stream('journal.read', { journal_id: info.journal_id, after_seq: 0, batch_records: 200 }, { window: 2 });
    const seqs: number[] = [];
    for await (const batch of recordsBatches(stream)) {
      expect(verifyJournalBatch(batch)).toEqual({ ok: true, value: batch });
      seqs.push(...batch.records.map((r) => r.seq));
    }
    expect(expectOk(await stream.result)).toEqual({ through_seq: 1500, records: info.records, more: false });
    expect(seqs).toEqual(Array.from({ length: info.records }, (_, i) => info.first_seq + i));

    const { losses } = expectOk(await client.call('loss.list', { journal_id: info.journal_id }));
    expect(losses.length).toBeGreaterThan(0);
    expect(losses.every((l) => l.reason === 'retention_budget' && l.priority === 3)).toBe(true);
    // Held records plus lost ones account for every seq ever assigned.
    expect(info.records + losses.reduce((n, l) => n + l.count, 0)).toBe(1500);
    expect(await client.call('loss.list', { journal_id: 'not-this-one' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it('custody.ack and forwarded.ack move forward and never back', async () => {
    const [info] = expectOk(await client.call('journal.info', {})).journals;
    if (!info) throw new Error('no journal');
    expect(expectOk(await client.call('custody.ack', { courier_id: 'laptop-1', journal_id: info.journal_id, through_seq: 1200 }))).toEqual({ through_seq: 1200 });
    expect(expectOk(await client.call('custody.ack', { courier_id: 'laptop-1', journal_id: info.journal_id, through_seq: 900 }))).toEqual({ through_seq: 1200 });
    expect(expectOk(await client.call('forwarded.ack', { by: 'laptop-1', journal_id: info.journal_id, through_seq: 1000 }))).toEqual({ forwarded_seq: 1000 });
    const [after] = expectOk(await client.call('journal.info', {})).journals;
    expect(after?.custody).toEqual([expect.objectContaining({ courier_id: 'laptop-1', through_seq: 1200 })]);
    expect(after?.forwarded_seq).toBe(1000);
  });

  it('health.get, health.watch and health.history', async () => {
    const sample = expectOk(await client.call('health.get', {}));
    expect(HealthSampleSchema.parse(sample)).toMatchObject({ device_id: 'pi-07', agent_version: agentVersion });
    expect(sample.journal.records).toBeGreaterThan(0);

    const watch = client.stream('health.watch', { interval_ms: 100 }, { window: 1 });
    const seen: number[] = [];
    for await (const s of watch) {
      seen.push(s.at_ms);
      if (seen.length === 3) break;
    }
    expect(seen).toHaveLength(3);
    expect(expectOk(await watch.result).samples).toBeGreaterThanOrEqual(3);

    const history = expectOk(await client.call('health.history', { since_ms: 0 }));
    expect(Array.isArray(history.minutes) && Array.isArray(history.events)).toBe(true);
  });

  it('config.get hides the uplink password; config.set with "***" keeps it', async () => {
    const { config } = expectOk(await client.call('config.get', {}));
    expect(config.uplink?.password).toBe('***');
    const changed = expectOk(await client.call('config.set', { config: { ...config, site: 'south-field' } }));
    expect(changed.restart_required).toBe(true);
    expect(changed.config.site).toBe('south-field');
    expect(changed.config.uplink?.password).toBe('***');
    const onDisk = JSON.parse(readFileSync(rig.configPath, 'utf8')) as { site: string; uplink: { password: string } };
    expect(onDisk.site).toBe('south-field');
    expect(onDisk.uplink.password).toBe('s3cret');
    const refused = await client.call('config.set', { config: { ...config, retention: { budget_bytes: -5, max_age_days: null } } });
    expect(refused).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'params.config.retention.budget_bytes' } });
  });

  it('refuses bad params before sending them', async () => {
    const sent = client.diagnostics().framesOut;
    const result = await client.call('custody.ack', { courier_id: 'has space', journal_id: 'j', through_seq: 1 });
    expect(result).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'params.courier_id' } });
    expect(client.diagnostics().framesOut).toBe(sent);
  });
});

describe('agent RPC client: flow control, cancel, timeouts and a failing link', () => {
  let rig: AgentRpcRig;
  let journalId = '';
  const cleanups: (() => void)[] = [];

  beforeAll(() => {
    rig = createAgentRpcRig();
    rig.fill(3000);
    const j = rig.journal();
    journalId = j.journalId;
  });

  afterEach(() => {
    for (const fn of cleanups.splice(0)) fn();
  });

  afterAll(() => {
    rig.remove();
  });

  function connect(tamper?: (chunk: Buffer) => Buffer, timeoutMs = 10_000): { agent: AgentRpcChild; client: AgentRpcClient } {
    const agent = rig.start();
    const client = createAgentRpcClient(tamper ? tamperedLink(agent, tamper) : agent, { timeoutMs });
    cleanups.push(() => {
      client.close();
      agent.child.kill('SIGKILL');
    });
    return { agent, client };
  }

  it('a slow consumer holds the agent to its window: never more than 3 items ahead', async () => {
    const { client } = connect();
    expectOk(await client.call('hello', {}));
    const base = client.diagnostics().framesIn;
    const stream = client.stream('journal.read', { journal_id: journalId, after_seq: 0, batch_records: 100, limit: 1500 }, { window: 3 });
    const deadline = Date.now() + 10_000;
    while (client.diagnostics().framesIn - base < 3 && Date.now() < deadline) await settle(10);
    // Nothing consumed yet: exactly the window arrived, and nothing more (the pause is the
    // point: it gives a credit bug the time to send a fourth batch).
    await settle(300);
    expect(client.diagnostics().framesIn - base).toBe(3);
    let consumed = 0;
    for await (const batch of stream) {
      consumed++;
      expect(batch.count).toBe(100);
      await settle(15); // the courier writing to SQLite
      expect(client.diagnostics().framesIn - base).toBeLessThanOrEqual(consumed + 3);
    }
    expect(consumed).toBe(15);
    expect(expectOk(await stream.result)).toEqual({ through_seq: 1500, records: 1500, more: true });
  });

  it('runs streams and calls side by side on one link', async () => {
    const { client } = connect();
    const seqsOf = async (stream: AsyncIterable<JournalBatch | JournalLinesBatch>): Promise<number[]> => {
      const seqs: number[] = [];
      for await (const batch of recordsBatches(stream)) seqs.push(...batch.records.map((r) => r.seq));
      return seqs;
    };
    const [first, second, infos] = await Promise.all([
      seqsOf(client.stream('journal.read', { journal_id: journalId, after_seq: 0, limit: 1000, batch_records: 100 }, { window: 2 })),
      seqsOf(client.stream('journal.read', { journal_id: journalId, after_seq: 1000, limit: 1000, batch_records: 250 }, { window: 1 })),
      Promise.all(Array.from({ length: 10 }, () => client.call('journal.info', {}))),
    ]);
    expect(first).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(second).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1001));
    expect(infos.every((r) => r.ok)).toBe(true);
  });

  it('waits as long as the consumer needs, but fails a stream the agent owes an item and goes silent on', async () => {
    const { agent, client } = connect();
    expectOk(await client.call('hello', {}));
    const stream = client.stream('journal.read', { journal_id: journalId, after_seq: 0, batch_records: 10 }, { window: 1, idleTimeoutMs: 300 });
    const iterator = stream[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    // A slow consumer owes the agent nothing: no timeout however long it takes.
    await settle(600);
    expect((await iterator.next()).done).toBe(false);
    agent.child.kill('SIGSTOP');
    // Taking the next item grants credit; the stopped agent never sends it.
    const started = Date.now();
    await iterator.next();
    expect(await stream.result).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE', message: expect.stringContaining('sent nothing for 300 ms during journal.read') as unknown } });
    expect(Date.now() - started).toBeLessThan(3000);
    agent.child.kill('SIGCONT');
  });

  it('breaking out of a stream cancels it on the agent', async () => {
    const { client } = connect();
    const stream = client.stream('journal.read', { journal_id: journalId, after_seq: 0, batch_records: 10 }, { window: 2 });
    let taken = 0;
    for await (const batch of stream) {
      expect(verifyJournalBatch(batch).ok).toBe(true);
      if (++taken === 2) break;
    }
    const end = expectOk(await stream.result);
    expect(end.more).toBe(true);
    expect(end.records).toBeLessThanOrEqual(40);
  });

  it('a call the agent does not answer in time is UNAVAILABLE; the link stays usable', async () => {
    const { agent, client } = connect(undefined, 400);
    // The agent's start-up is not what is timed here.
    expectOk(await client.call('hello', {}, { timeoutMs: 10_000 }));
    agent.child.kill('SIGSTOP');
    const started = Date.now();
    const late = await client.call('journal.info', {});
    expect(late).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE', message: expect.stringContaining('did not answer journal.info within 400 ms') as unknown } });
    expect(Date.now() - started).toBeLessThan(2000);
    agent.child.kill('SIGCONT');
    expectOk(await client.call('journal.info', {}));
  });

  it('the link closing mid-stream fails the stream and pending calls with UNAVAILABLE, and later calls at once', async () => {
    const { agent, client } = connect();
    const stream = client.stream('journal.read', { journal_id: journalId, after_seq: 0, batch_records: 50 }, { window: 2 });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.done).toBe(false);
    agent.child.kill('SIGSTOP');
    const pendingCall = client.call('health.get', {});
    agent.child.kill('SIGKILL');
    expect(await pendingCall).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE', message: expect.stringContaining('closed while waiting for health.get') as unknown } });
    expect(await stream.result).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE', message: expect.stringContaining('journal.read') as unknown } });
    // Items that had arrived are still handed over, then the stream ends.
    let rest = 0;
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) rest++;
    expect(rest).toBeLessThanOrEqual(2);
    expect(client.closed).toBe(true);
    expect(await client.call('hello', {})).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
  });

  it('reads through noise before, between and around frames, and counts what it skipped', async () => {
    let inserted = 0;
    const { client } = connect((chunk) => {
      const parts: Uint8Array[] = [];
      let from = 0;
      for (const start of frameStarts(chunk)) {
        parts.push(chunk.subarray(from, start), kernelLine, ansi);
        inserted += kernelLine.length + ansi.length;
        from = start;
      }
      parts.push(chunk.subarray(from));
      return Buffer.concat(parts);
    });
    for (let i = 0; i < 5; i++) expectOk(await client.call('journal.info', {}));
    const stream = client.stream('journal.read', { journal_id: journalId, after_seq: 0, limit: 500, batch_records: 100 }, { window: 2 });
    let records = 0;
    for await (const batch of stream) records += batch.count;
    expect(records).toBe(500);
    const diagnostics = client.diagnostics();
    expect(inserted).toBeGreaterThan(0);
    expect(diagnostics.skippedBytes).toBe(inserted);
    expect(diagnostics.badFrames).toBe(0);
    expect(diagnostics.faults.garbage).toBeGreaterThan(0);
  });

  it('a result damaged on the link times out as UNAVAILABLE; the next call works', async () => {
    let frames = 0;
    const { client } = connect((chunk) => {
      const out = Buffer.from(chunk);
      for (const start of frameStarts(out)) {
        // Flip one payload bit of the agent's second frame.
        if (++frames === 2 && start + 30 < out.length) out[start + 30] = (out[start + 30] ?? 0) ^ 0x04;
      }
      return out;
    }, 500);
    expectOk(await client.call('hello', {}, { timeoutMs: 10_000 }));
    expect(await client.call('journal.info', {})).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
    expectOk(await client.call('journal.info', {}));
    expect(client.diagnostics().faults.payload_crc).toBe(1);
    expect(client.diagnostics().badFrames).toBe(1);
  });

  it('a stream item lost on the link ends the stream at the gap, keeping only what came before it', async () => {
    /** Damages the agent's frame number `which` (1-based; frames stay under PIPE_BUF, so each arrives whole). */
    const damaging = (which: number) => {
      let frames = 0;
      return (chunk: Buffer): Buffer => {
        const out = Buffer.from(chunk);
        for (const start of frameStarts(out)) if (++frames === which) out[start + 30] = (out[start + 30] ?? 0) ^ 0x04;
        return out;
      };
    };
    const read = { journal_id: journalId, after_seq: 0, limit: 10, batch_records: 2 };
    // Frame 1 answers hello; frames 2-6 are items 0-4; frame 7 is the result.
    for (const [damaged, kept, says] of [
      [4, [1, 2, 3, 4], 'item 2 never arrived (the next one was 3)'],
      [6, [1, 2, 3, 4, 5, 6, 7, 8], 'the agent sent 5 items, 4 arrived'],
    ] as const) {
      const { client } = connect(damaging(damaged));
      expectOk(await client.call('hello', {}));
      const stream = client.stream('journal.read', read, { window: 10 });
      const seqs: number[] = [];
      for await (const batch of recordsBatches(stream)) seqs.push(...batch.records.map((r) => r.seq));
      expect(seqs).toEqual(kept);
      expect(await stream.result).toMatchObject({ ok: false, error: { code: 'IO_ERROR', message: expect.stringContaining(says) as unknown } });
      expect(client.diagnostics().faults.payload_crc).toBe(1);
    }
  });

  it('ignores its own requests echoed back by a tty', async () => {
    const agent = rig.start();
    const readable = new PassThrough();
    const writable = new PassThrough();
    agent.readable.pipe(readable);
    writable.on('data', (chunk: Buffer) => {
      agent.writable.write(chunk);
      readable.write(chunk); // the echo
    });
    const client = createAgentRpcClient({ readable, writable });
    cleanups.push(() => {
      client.close();
      agent.child.kill('SIGKILL');
    });
    expectOk(await client.call('hello', {}));
    const stream = client.stream('journal.read', { journal_id: journalId, after_seq: 0, limit: 300, batch_records: 100 }, { window: 1 });
    const batches: JournalBatch[] = [];
    for await (const batch of recordsBatches(stream)) batches.push(batch);
    expect(batches.map((b) => b.count)).toEqual([100, 100, 100]);
    expect(client.diagnostics().echoedMessages).toBeGreaterThanOrEqual(3);
  });
});
