import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { createGroupCommitter } from '../../agent/ingest/groupCommit.ts';
import { createIngestMetrics, type IngestMetrics } from '../../agent/ingest/ingestMetrics.ts';
import { startMqttIngest, type MqttIngest } from '../../agent/ingest/mqttIngest.ts';
import type { Journal } from '../../agent/journal/journalApi.ts';
import { JournalFullError } from '../../agent/journal/journalErrors.ts';
import { openJournal } from '../../agent/journal/openJournal.ts';
import { silentLogger } from '../../agent/jsonLog.ts';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.ts';
import { makeTempDir } from '../support/tempDir.ts';

const subscriptions = [
  { topic: 'sensors/+/temp', kind: 'temperature', priority: 3 as const },
  { topic: 'safety/#', kind: 'safety', priority: 1 as const },
];

async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('agent MQTT ingest against mosquitto', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function broker(persistence: boolean): Promise<Mosquitto> {
    const b = await startMosquitto({ persistence });
    cleanups.push(() => b.remove());
    return b;
  }
  function journal(budgetBytes = 1 << 30): Journal {
    const dir = makeTempDir('fieldkit-mqtt-');
    cleanups.push(() => { dir.remove(); });
    const j = openJournal({ path: join(dir.path, 'journal.db'), deviceId: 'pi-07', budgetBytes });
    cleanups.push(() => { j.close(); });
    return j;
  }
  function ingest(b: Mosquitto, j: Journal, metrics: IngestMetrics): MqttIngest {
    const m = startMqttIngest({
      mqtt: { url: b.url, subscriptions },
      deviceId: 'pi-07',
      committer: createGroupCommitter(j),
      metrics,
      maxEventBytes: 4096,
      log: silentLogger(),
      reconnectMinMs: 100,
      reconnectMaxMs: 400,
    });
    cleanups.push(() => m.close());
    return m;
  }
  async function publisher(b: Mosquitto): Promise<MqttClient> {
    const p = await connectAsync(b.url, { clientId: `producer-${String(Math.random()).slice(2)}`, reconnectPeriod: 100 });
    cleanups.push(() => p.endAsync(true));
    return p;
  }
  function payloads(j: Journal): unknown[] {
    return j.read({ after_seq: 0, limit: 100_000, max_bytes: 1 << 30 }).map((r) => JSON.parse(r.payload) as unknown);
  }

  it('journals messages by topic, and acks and counts poison messages without blocking the queue behind them', async () => {
    const b = await broker(false);
    const j = journal();
    const metrics = createIngestMetrics();
    const agent = ingest(b, j, metrics);
    await until('the subscription', () => agent.subscribed);
    const p = await publisher(b);
    const before = j.info().last_seq;
    await p.publishAsync('sensors/a/temp', 'not json', { qos: 1 });
    await p.publishAsync('sensors/a/temp', '{"payload":1,"ts_ms":"noon"}', { qos: 1 });
    await p.publishAsync('sensors/a/temp', JSON.stringify({ payload: { c: 21.5 }, ts_ms: 1_750_000_000_000, model_version: 'th-2' }), { qos: 1 });
    await p.publishAsync('safety/estop/1', '{"pressed":true}', { qos: 1 });
    await until('two events', () => j.info().last_seq === before + 2);
    const [temp, safety] = j.read({ after_seq: before, limit: 10, max_bytes: 1 << 20 });
    expect(temp).toMatchObject({ kind: 'temperature', priority: 3, ts_ms: 1_750_000_000_000, model_version: 'th-2', payload: '{"c":21.5}' });
    expect(safety).toMatchObject({ kind: 'safety', priority: 1, payload: '{"pressed":true}' });
    expect(metrics.mqttMessages.get({ outcome: 'invalid' })).toBe(2);
    expect(metrics.rejected.get({ reason: 'invalid_json' })).toBe(1);
    expect(metrics.rejected.get({ reason: 'invalid_event' })).toBe(1);
    expect(metrics.events.get({ source: 'mqtt' })).toBe(2);
  });

  it('loses nothing the broker acknowledged when the broker stops mid-stream and comes back', async () => {
    const b = await broker(true);
    const j = journal();
    const metrics = createIngestMetrics();
    const agent = ingest(b, j, metrics);
    await until('the subscription', () => agent.subscribed && metrics.mqttConnected === 1);
    const p = await publisher(b);
    const total = 300;
    const acked: number[] = [];
    const publishing = (async () => {
      for (let n = 0; n < total; n++) {
        // Each publish resolves on the broker's PUBACK (after a restart for those in the gap).
        void p.publishAsync('sensors/b/temp', JSON.stringify({ payload: { n } }), { qos: 1 }).then(() => acked.push(n));
        if (n % 10 === 0) await new Promise((r) => setTimeout(r, 5)); // a paced producer, so the outage falls mid-stream
      }
    })();
    await until('a third acked', () => acked.length >= total / 3);
    await b.stop();
    await until('the agent sees the broker gone', () => metrics.mqttConnected === 0, 5000);
    await new Promise((r) => setTimeout(r, 300)); // the outage under test: messages are published into the gap
    await b.start();
    await publishing;
    await until('every message acked by the broker', () => acked.length === total);
    const wanted = new Set(acked);
    await until('every acked message journaled', () => {
      const have = new Set(payloads(j).map((v) => (v as { n?: number }).n));
      return [...wanted].every((n) => have.has(n));
    });
    expect(metrics.mqttConnected).toBe(1);
    // QoS 1 is at-least-once: a publish in flight when the broker stopped is sent again by
    // the producer, so a message may be journaled twice, but never lost and never with a hole.
    const info = j.info();
    expect(info.records).toBeGreaterThanOrEqual(total);
    const seqs = j.read({ after_seq: 0, limit: 100_000, max_bytes: 1 << 30 }).map((r) => r.seq);
    expect(seqs).toEqual(Array.from({ length: info.last_seq }, (_, i) => i + 1));
  });

  it('subscribes again when a broker without persistence comes back with no memory of the agent', async () => {
    const b = await broker(false);
    const j = journal();
    const metrics = createIngestMetrics();
    const agent = ingest(b, j, metrics);
    await until('the subscription', () => agent.subscribed);
    await b.stop();
    await until('the agent sees the broker gone', () => !agent.subscribed && metrics.mqttConnected === 0, 5000);
    await b.start();
    await until('subscribed again', () => agent.subscribed, 10_000);
    const p = await publisher(b);
    await p.publishAsync('sensors/c/temp', '{"payload":"after restart"}', { qos: 1 });
    await until('the message', () => j.info().records === 1);
    expect(payloads(j)).toEqual(['after restart']);
  });

  it('does not ack what the journal cannot take: the broker redelivers it to the next agent once there is room', async () => {
    const b = await broker(true);
    const j = journal(20_000);
    // Fill the budget with unconfirmed safety records, to the last byte a small one fits in.
    for (;;) {
      try {
        j.append([{ priority: 1, kind: 'fill', payload: { pad: 'p' } }], Date.now());
      } catch (error) {
        expect(error).toBeInstanceOf(JournalFullError);
        break;
      }
    }
    const full = j.info().last_seq;
    const metrics = createIngestMetrics();
    const first = ingest(b, j, metrics);
    await until('the subscription', () => first.subscribed);
    const p = await publisher(b);
    await p.publishAsync('safety/door', JSON.stringify({ payload: { open: true, pad: 'p'.repeat(100) } }), { qos: 1 });
    await until('the refusal', () => metrics.rejected.get({ reason: 'journal_full' }) === 1);
    expect(j.info().last_seq).toBe(full);
    await first.close();
    // A courier takes custody: room again. A new agent process with the same session gets the message.
    j.ackCustody('laptop-a', full, Date.now());
    const second = createIngestMetrics();
    ingest(b, j, second);
    await until('redelivery', () => j.info().last_seq === full + 1);
    expect(JSON.parse(j.read({ after_seq: full, limit: 1, max_bytes: 1 << 20 })[0]?.payload ?? '')).toMatchObject({ open: true });
  });
});
