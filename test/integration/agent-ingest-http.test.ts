import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createGroupCommitter } from '../../agent/ingest/groupCommit.ts';
import { startHttpIngest, type HttpIngest } from '../../agent/ingest/httpIngest.ts';
import { createIngestMetrics, type HealthProvider, type IngestMetrics } from '../../agent/ingest/ingestMetrics.ts';
import type { Journal } from '../../agent/journal/journalApi.ts';
import { openJournal } from '../../agent/journal/openJournal.ts';
import { silentLogger } from '../../agent/jsonLog.ts';
import { freePort } from '../../electron/kernel/net/freePort.ts';
import type { HealthSample } from '../../shared/health.ts';
import { startAgentDaemon, writeAgentConfig } from '../support/agentDaemonProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';

type Agent = { journal: Journal; ingest: HttpIngest; metrics: IngestMetrics; url: string };
type Limits = { maxEventBytes: number; maxBatchEvents: number; maxPendingRequests: number };

const ndjson = { 'Content-Type': 'application/x-ndjson' };
const json = { 'Content-Type': 'application/json' };

export const sampleHealth: HealthSample = {
  at_ms: Date.UTC(2025, 5, 1),
  device_id: 'pi-07',
  uptime_s: 3600,
  cpu_pct: 37.5,
  load: [0.5, 0.4, 0.3],
  mem_total_bytes: 4e9,
  mem_available_bytes: 3e9,
  disks: [{ path: '/', total_bytes: 32e9, free_bytes: 20e9 }, { path: '/var/lib/fieldkit-agent', total_bytes: 32e9, free_bytes: 20e9 }],
  temp_c: 61.2,
  throttling: {
    raw: 0x50005,
    now: { under_voltage: true, arm_freq_capped: false, throttled: true, soft_temp_limit: false },
    since_boot: { under_voltage: true, arm_freq_capped: false, throttled: true, soft_temp_limit: false },
  },
  volt_alarm: false,
  emmc: { device: 'mmcblk0', life_time_a: 2, life_time_b: 1, pre_eol_info: 1 },
  nvme: { device: 'nvme0', critical_warning: 0, percentage_used: 3, temperature_c: 44, media_errors: 0 },
  journal: { records: 10, bytes: 1000, backlog_records: 10, ingest_per_s: 12.5 },
  uplink: { state: 'idle', last_forward_ms: null, last_error: null },
  agent_version: '0.1.0',
  model_version: 'yolo-8',
  inference: { count: 100, p50_ms: 12, p95_ms: 30 },
};

describe('agent HTTP ingest', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function startAgent(limits: Partial<Limits> = {}, health?: HealthProvider, budgetBytes = 1 << 30): Promise<Agent> {
    const dir = makeTempDir('fieldkit-ingest-');
    cleanups.push(() => { dir.remove(); });
    const journal = openJournal({ path: join(dir.path, 'journal.db'), deviceId: 'pi-07', budgetBytes });
    cleanups.push(() => { journal.close(); });
    const metrics = createIngestMetrics();
    const committer = createGroupCommitter(journal, { onCommit: () => { metrics.commits.inc(); } });
    const ingest = await startHttpIngest({
      host: '127.0.0.1',
      port: 0,
      journal,
      committer,
      metrics,
      limits: { maxEventBytes: 4096, maxBatchEvents: 1000, maxPendingRequests: 64, ...limits },
      agentVersion: '0.1.0-test',
      log: silentLogger(),
      health,
    });
    cleanups.push(() => ingest.close());
    return { journal, ingest, metrics, url: ingest.url };
  }

  async function post(agent: Agent, body: string, headers: Record<string, string> = ndjson): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
    const res = await fetch(`${agent.url}/v1/events`, { method: 'POST', headers, body });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
  }

  function lines(events: unknown[]): string {
    return events.map((e) => JSON.stringify(e)).join('\n');
  }

  it('takes one JSON event and acknowledges its seq after commit', async () => {
    const agent = await startAgent();
    const res = await post(agent, JSON.stringify({ priority: 1, kind: 'power.undervoltage', ts_ms: 1_750_000_000_000, payload: { volts: 4.6 } }), json);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 1, first_seq: 1, last_seq: 1, journal_id: agent.journal.journalId });
    expect(agent.journal.read({ after_seq: 0, limit: 10, max_bytes: 1 << 20 })).toMatchObject([{ seq: 1, ts_ms: 1_750_000_000_000, priority: 1, kind: 'power.undervoltage', payload: '{"volts":4.6}' }]);
  });

  it('takes an NDJSON batch (blank lines and CRLF ignored) as one contiguous seq range', async () => {
    const agent = await startAgent();
    const body = `{"priority":3,"kind":"inference","payload":{"ms":12}}\r\n\n   \n{"priority":2,"kind":"state","payload":"idle"}\n{"priority":3,"kind":"inference","payload":{"ms":14}}\n`;
    const res = await post(agent, body);
    expect(res.body).toMatchObject({ accepted: 3, first_seq: 1, last_seq: 3 });
    const again = await post(agent, body);
    expect(again.body).toMatchObject({ accepted: 3, first_seq: 4, last_seq: 6 });
    expect(agent.journal.read({ after_seq: 0, limit: 10, max_bytes: 1 << 20 }).map((r) => r.payload)).toEqual(['{"ms":12}', '"idle"', '{"ms":14}', '{"ms":12}', '"idle"', '{"ms":14}']);
  });

  it('refuses a whole batch for one bad line, naming the line and field, and stores nothing of it', async () => {
    const agent = await startAgent();
    const good = { priority: 3, kind: 'inference', payload: {} };
    const cases: { body: string; status: number; line: number; field?: string; message: RegExp; reason: string }[] = [
      { body: lines([good, good, { ...good, priority: 4 }]), status: 400, line: 3, field: 'priority', message: /line 3.*priority must be 1/, reason: 'invalid_event' },
      { body: `${lines([good])}\n{"priority": 3, "kind": "x", payload}\n${lines([good])}`, status: 400, line: 2, message: /line 2: not valid JSON/, reason: 'invalid_json' },
      { body: lines([good, { ...good, kind: 'Bad Kind' }]), status: 400, line: 2, field: 'kind', message: /field 'kind'/, reason: 'invalid_event' },
      { body: lines([good, { ...good, colour: 'red' }]), status: 400, line: 2, field: 'colour', message: /colour/, reason: 'invalid_event' },
      { body: lines([{ priority: 1, kind: 'k' }]), status: 400, line: 1, field: 'payload', message: /payload/, reason: 'invalid_event' },
      { body: lines([good, { ...good, ts_ms: 1.5 }]), status: 400, line: 2, field: 'ts_ms', message: /ts_ms/, reason: 'invalid_event' },
      { body: lines([good, good, { ...good, payload: 'x'.repeat(5000) }]), status: 413, line: 3, message: /line 3: the event is \d+ bytes, over the limit of 4096/, reason: 'too_large' },
    ];
    for (const c of cases) {
      const res = await post(agent, c.body);
      expect(res.status, c.body).toBe(c.status);
      const error = res.body.error as Record<string, unknown>;
      expect(error).toMatchObject({ code: 'BAD_REQUEST', line: c.line });
      expect(error.message).toMatch(c.message);
      expect(error.hint).toEqual(expect.any(String));
      if (c.field !== undefined) expect(error.field).toBe(c.field);
      expect(agent.metrics.rejected.get({ reason: c.reason })).toBeGreaterThan(0);
    }
    expect(agent.journal.info()).toMatchObject({ last_seq: 0, records: 0 });
  });

  it('refuses a body larger than any valid batch from its Content-Length, without reading it', async () => {
    const agent = await startAgent({ maxEventBytes: 100, maxBatchEvents: 10 });
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${agent.url}/v1/events`, { method: 'POST', headers: { ...ndjson, 'Content-Length': String(50 * 1024 * 1024) } }, (res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
      });
      req.on('error', reject);
      // Only the first bytes of the 50 MiB ever go out: the answer comes before the rest.
      req.write('{"priority":3,');
    });
    expect(status).toBe(413);
    const chunked = await fetch(`${agent.url}/v1/events`, {
      method: 'POST',
      headers: ndjson,
      body: new ReadableStream({
        pull(controller) {
          controller.enqueue(new TextEncoder().encode('{"priority":3,"kind":"k","payload":1}\n'.repeat(20)));
        },
      }),
      duplex: 'half',
    }).catch((error: unknown) => error);
    // Either the 413 arrives or the connection is cut mid-upload; never a 200.
    if (chunked instanceof Response) expect(chunked.status).toBe(413);
    expect(agent.journal.info().last_seq).toBe(0);
    expect(agent.metrics.rejected.get({ reason: 'too_large' })).toBeGreaterThanOrEqual(1);
    const wrongType = await post(agent, '{}', { 'Content-Type': 'text/plain' });
    expect(wrongType.status).toBe(415);
  });

  it('accepts events stamped in 1970 as sent, and counts them as clock-suspect', async () => {
    const agent = await startAgent();
    const res = await post(agent, lines([{ priority: 2, kind: 'state', ts_ms: 12_345, payload: 'boot' }, { priority: 2, kind: 'state', ts_ms: Date.now(), payload: 'ok' }]));
    expect(res.status).toBe(200);
    expect(agent.journal.read({ after_seq: 0, limit: 10, max_bytes: 1 << 20 })[0]?.ts_ms).toBe(12_345);
    expect(agent.metrics.clockSuspect.get()).toBe(1);
    const text = await (await fetch(`${agent.url}/metrics`)).text();
    expect(text).toMatch(/^fieldkit_agent_clock_suspect_events_total 1$/m);
  });

  it('gives concurrent requests each its own contiguous range', async () => {
    const agent = await startAgent();
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, r) => post(agent, lines(Array.from({ length: 25 }, (_, i) => ({ priority: 3, kind: 'm', payload: { r, i } }))))),
    );
    const ranges = responses.map((res, r) => ({ r, first: Number(res.body.first_seq), last: Number(res.body.last_seq) }));
    for (const { first, last } of ranges) expect(last - first).toBe(24);
    const seqs = ranges.flatMap(({ first }) => Array.from({ length: 25 }, (_, i) => first + i)).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    const records = agent.journal.read({ after_seq: 0, limit: 2000, max_bytes: 1 << 30 });
    for (const { r, first } of ranges) {
      expect(JSON.parse(records[first - 1]?.payload ?? '')).toEqual({ r, i: 0 });
      expect(JSON.parse(records[first + 23]?.payload ?? '')).toEqual({ r, i: 24 });
    }
  });

  it('serves /health and 404/405 answers as JSON', async () => {
    const agent = await startAgent();
    await post(agent, lines([{ priority: 3, kind: 'm', payload: 1 }]));
    const health = (await (await fetch(`${agent.url}/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ ok: true, device_id: 'pi-07', journal_id: agent.journal.journalId, last_seq: 1, agent_version: '0.1.0-test' });
    expect(health.uptime_s).toEqual(expect.any(Number));
    const missing = await fetch(`${agent.url}/v2/nope`);
    expect(missing.status).toBe(404);
    const wrong = await fetch(`${agent.url}/v1/events`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });

  it('serves /metrics that promtool accepts, with journal, ingest and health figures', async () => {
    const agent = await startAgent({}, () => Promise.resolve(sampleHealth));
    await post(agent, lines([{ priority: 3, kind: 'm', payload: 1 }, { priority: 1, kind: 'm', payload: 2 }]));
    await post(agent, '{bad');
    agent.journal.ackCustody('laptop-a', 1, Date.now());
    const res = await fetch(`${agent.url}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    // promtool exits non-zero on any format error or lint problem, and says which.
    const out = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(out).toBe('');
    expect(text).toMatch(/^fieldkit_agent_ingest_events_total\{source="http"\} 2$/m);
    expect(text).toMatch(/^fieldkit_agent_ingest_rejected_total\{reason="invalid_json"\} 1$/m);
    expect(text).toMatch(/^fieldkit_agent_journal_last_seq 2$/m);
    expect(text).toMatch(/^fieldkit_agent_journal_records 2$/m);
    expect(text).toMatch(/^fieldkit_agent_journal_custody_seq\{courier="laptop-a"\} 1$/m);
    expect(text).toMatch(/^fieldkit_agent_journal_loss_records_total 0$/m);
    expect(text).toMatch(/^fieldkit_agent_http_request_duration_seconds_bucket\{route="\/v1\/events",le="\+Inf"\} 2$/m);
    expect(text).toMatch(/^fieldkit_agent_health_temperature_celsius 61.2$/m);
    expect(text).toMatch(/^fieldkit_agent_health_cpu_usage_ratio 0.375$/m);
    expect(text).toMatch(/^fieldkit_agent_health_throttle_flag\{flag="under_voltage",scope="now"\} 1$/m);
    expect(text).toMatch(/^fieldkit_agent_health_disk_free_bytes\{path="\/"\} 20000000000$/m);
    expect(text).toMatch(/^fieldkit_agent_health_inference_latency_p95_seconds 0.03$/m);
  });

  it('refuses a payload nested 100,000 deep with 400 naming the limit, in JSON and NDJSON, and the running agent takes the next post', async () => {
    const dir = makeTempDir('fieldkit-ingest-deep-');
    cleanups.push(() => { dir.remove(); });
    const port = await freePort();
    // The event size limit is raised so the nesting, not the size, is what a 200 KB body trips.
    const config = writeAgentConfig(dir.path, { device_id: 'pi-07', data_dir: join(dir.path, 'data'), ingest: { port, max_event_bytes: 512 * 1024 }, health: { vcgencmd: null } });
    const daemon = await startAgentDaemon(config, port);
    cleanups.push(() => { daemon.child.kill('SIGKILL'); });
    const depth = 100_000;
    const deep = `{"priority":3,"kind":"inference","payload":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const good = JSON.stringify({ priority: 3, kind: 'inference', payload: { ms: 12 } });
    const postTo = async (body: string, headers: Record<string, string>) => {
      const res = await fetch(`${daemon.url}/v1/events`, { method: 'POST', headers, body });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    for (const [body, headers, line] of [[deep, json, 1], [`${good}\n${deep}\n`, ndjson, 2]] as const) {
      const refused = await postTo(body, headers);
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatchObject({ code: 'BAD_REQUEST', line, message: expect.stringMatching(new RegExp(`^line ${line}: .*more than 64 levels deep`)) as unknown });
    }
    // At the limit is still fine: the event object plus 63 levels of payload.
    const atLimit = await postTo(`{"priority":3,"kind":"inference","payload":${'['.repeat(63)}${']'.repeat(63)}}`, json);
    expect(atLimit.status).toBe(200);
    const next = await postTo(good, json);
    expect(next).toMatchObject({ status: 200, body: { accepted: 1, first_seq: 2, last_seq: 2 } });
    expect(daemon.child.exitCode).toBeNull();
    expect(daemon.stderr()).not.toMatch(/Maximum call stack|ingest request failed/);
  });
});
