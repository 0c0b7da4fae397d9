import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentRpcClient } from '../../electron/kernel/link/agentRpcClient.ts';
import { AgentConfigSchema } from '../../shared/agentConfig.ts';
import { JournalRecordSchema, LossRecordSchema } from '../../shared/journal.ts';
import { agentEntry, startAgentDaemon, writeAgentConfig } from '../support/agentDaemonProcess.ts';
import { connectAsync } from 'mqtt';
import { freePort, startMosquitto } from '../support/mosquitto.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { waitFor } from '../support/waitFor.ts';

type Run = { code: number | null; stdout: string; stderr: string };

function runAgent(args: readonly string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  const child = spawn(process.execPath, [agentEntry, ...args], { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

describe('fieldkit-agent command line', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  async function setup(extra: Record<string, unknown> = {}): Promise<{ dir: string; config: string; port: number }> {
    const d = makeTempDir('fieldkit-agent-cli-');
    cleanups.push(() => { d.remove(); });
    const port = await freePort();
    const config = writeAgentConfig(d.path, { device_id: 'pi-07', data_dir: join(d.path, 'data'), ingest: { port }, health: { vcgencmd: null }, ...extra });
    return { dir: d.path, config, port };
  }

  it('prints its versions as JSON', async () => {
    const run = await runAgent(['version']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ agent_version: pkg.version, node_version: process.versions.node, arch: process.arch, platform: 'linux' });
  });

  it('answers a wrong command line with usage and exit 2', async () => {
    for (const args of [['frobnicate'], [], ['export', '--after', 'ten'], ['status', '--limit', '3'], ['run', '--bogus'], ['version', 'extra']]) {
      const run = await runAgent(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/^error: .+\n\nusage: fieldkit-agent/);
    }
    const help = await runAgent(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: fieldkit-agent/);
  });

  it('says which config it could not use and why, naming the field', async () => {
    const missing = await runAgent(['status', '--config', '/nonexistent/config.json']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Config \/nonexistent\/config.json: no such file\nhint: /);
    const { dir } = await setup();
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ device_id: 'pi-07', ingest: { port: 70_000 } }));
    const invalid = await runAgent(['status'], { env: { FIELDKIT_AGENT_CONFIG: bad } });
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/field 'ingest.port'/);
    writeFileSync(bad, '{"device_id": ');
    expect((await runAgent(['status', '--config', bad])).stderr).toMatch(/not valid JSON/);
  });

  it('ingests from stdin or a file all or nothing, and exports NDJSON records and losses for rescue', async () => {
    // A tiny budget, filled in transactions of 10 events: retention must drop some.
    const { dir, config, port } = await setup({ retention: { budget_bytes: 2000 } });
    writeAgentConfig(dir, { device_id: 'pi-07', data_dir: join(dir, 'data'), ingest: { port, max_batch_events: 10 }, retention: { budget_bytes: 2000 }, health: { vcgencmd: null } });
    const noJournal = await runAgent(['export', '--config', config]);
    expect(noJournal.code).toBe(1);
    expect(noJournal.stderr).toMatch(/No journal at .*journal.db/);

    const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify({ priority: i % 2 === 0 ? 3 : 1, kind: 'cli', payload: { i } })).join('\n');
    const first = await runAgent(['ingest', '--config', config], { stdin: lines });
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ accepted: 30, first_seq: 1, last_seq: 30 });

    const refused = await runAgent(['ingest', '--config', config], { stdin: `${lines}\n{"priority":9,"kind":"cli","payload":1}` });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/line 31: field 'priority'/);

    const file = join(dir, 'one.json');
    writeFileSync(file, JSON.stringify({ priority: 1, kind: 'cli', payload: 'from a file' }));
    const single = await runAgent(['ingest', '--config', config, '--file', file, '--json']);
    expect(JSON.parse(single.stdout)).toMatchObject({ accepted: 1, first_seq: 31, last_seq: 31 });

    // The 2000-byte budget cannot hold 31 records: the oldest priority-3 records went, as losses.
    const exported = await runAgent(['export', '--config', config, '--after', '20', '--limit', '5']);
    expect(exported.code).toBe(0);
    const records = exported.stdout.trim().split('\n').map((l) => JournalRecordSchema.parse(JSON.parse(l)));
    expect(records.length).toBe(5);
    expect(records.every((r) => r.seq > 20)).toBe(true);
    const all = (await runAgent(['export', '--config', config])).stdout.trim().split('\n').map((l) => JournalRecordSchema.parse(JSON.parse(l)));
    expect(all.at(-1)).toMatchObject({ seq: 31, payload: '"from a file"', device_id: 'pi-07' });
    const losses = (await runAgent(['export', '--config', config, '--losses'])).stdout.trim().split('\n').map((l) => LossRecordSchema.parse(JSON.parse(l)));
    expect(losses.length).toBeGreaterThan(0);
    expect(losses.reduce((s, l) => s + l.count, 0) + all.length).toBe(31);
    expect(losses.every((l) => l.priority === 3)).toBe(true);
  });

  it('reports status as text and JSON, including whether the daemon answers', async () => {
    const { config, port } = await setup({ site: 'north-field' });
    await runAgent(['ingest', '--config', config], { stdin: '{"priority":2,"kind":"s","payload":1}' });
    const offline = await runAgent(['status', '--config', config, '--json']);
    expect(offline.code).toBe(0);
    const report = JSON.parse(offline.stdout) as { journal: { last_seq: number; device_id: string }; daemon: { answering: boolean }; health: { device_id: string } | null };
    expect(report.journal).toMatchObject({ last_seq: 1, device_id: 'pi-07' });
    expect(report.daemon.answering).toBe(false);
    expect(report.health?.device_id).toBe('pi-07');
    const daemon = await startAgentDaemon(config, port);
    cleanups.push(() => { daemon.child.kill('SIGKILL'); });
    const text = await runAgent(['status', '--config', config]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^fieldkit-agent .+ on pi-07 \(site north-field\)\ndaemon: +answering at http:\/\/127.0.0.1:\d+\/health\njournal: +[0-9a-f]{32}, seq 1-1, 1 records/);
  });

  it('finishes requests in flight on SIGTERM and exits 0, with everything it acknowledged stored', async () => {
    const { config, port, dir } = await setup();
    const daemon = await startAgentDaemon(config, port);
    cleanups.push(() => { daemon.child.kill('SIGKILL'); });
    const body = Array.from({ length: 500 }, (_, i) => JSON.stringify({ priority: 3, kind: 'k', payload: { i, pad: 'p'.repeat(200) } })).join('\n');
    const requests = Array.from({ length: 10 }, () =>
      fetch(`${daemon.url}/v1/events`, { method: 'POST', headers: { 'Content-Type': 'application/x-ndjson' }, body })
        .then(async (res) => ({ status: res.status, body: (await res.json()) as { last_seq?: number } }))
        .catch(() => null),
    );
    // SIGTERM once the daemon is taking them: its first batch is in the journal, others in flight.
    await waitFor(async () => ((await (await fetch(`${daemon.url}/health`)).json()) as { last_seq: number }).last_seq > 0, { timeoutMs: 15_000, intervalMs: 5, what: 'the first batch journaled' });
    daemon.child.kill('SIGTERM');
    const results = await Promise.all(requests);
    expect(await daemon.exited).toBe(0);
    expect(daemon.stderr()).toMatch(/"msg":"stopping","signal":"SIGTERM"[\s\S]*"msg":"stopped"/);
    const acked = results.filter((r) => r?.status === 200);
    expect(acked.length).toBeGreaterThan(0);
    const exported = await runAgent(['export', '--config', config]);
    const seqs = new Set(exported.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq));
    for (const r of acked) expect(seqs.has(r?.body.last_seq ?? -1)).toBe(true);
    expect(dir).toBeTruthy();
  });

  it('runs with MQTT configured: events from the broker and over HTTP land in one journal, and /metrics with live health passes promtool', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.remove());
    const { config, port } = await setup({ mqtt: { url: broker.url, subscriptions: [{ topic: 'plant/+/alarm', kind: 'alarm', priority: 1 }] } });
    const daemon = await startAgentDaemon(config, port);
    cleanups.push(() => { daemon.child.kill('SIGKILL'); });
    const publisher = await connectAsync(broker.url, { clientId: 'cli-test-producer' });
    cleanups.push(() => publisher.endAsync(true));
    const http = await fetch(`${daemon.url}/v1/events`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"priority":3,"kind":"inference","payload":{"latency_ms":17}}' });
    expect(http.status).toBe(200);
    // The daemon subscribes shortly after it starts: publish until the alarm is journaled.
    const deadline = Date.now() + 15_000;
    let lastSeq = 1;
    while (lastSeq < 2) {
      if (Date.now() > deadline) throw new Error(`no MQTT event journaled: ${daemon.stderr()}`);
      await publisher.publishAsync('plant/press-4/alarm', '{"payload":{"code":"E-STOP"}}', { qos: 1 });
      await new Promise((r) => setTimeout(r, 100));
      lastSeq = ((await (await fetch(`${daemon.url}/health`)).json()) as { last_seq: number }).last_seq;
    }
    const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
    expect(execFileSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' })).toBe('');
    expect(metrics).toMatch(/^fieldkit_agent_mqtt_connected 1$/m);
    expect(metrics).toMatch(/^fieldkit_agent_ingest_events_total\{source="mqtt"\} [1-9]/m);
    expect(metrics).toMatch(/^fieldkit_agent_health_memory_total_bytes \d+/m);
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    const exported = (await runAgent(['export', '--config', config])).stdout.trim().split('\n').map((l) => JournalRecordSchema.parse(JSON.parse(l)));
    expect(exported[0]).toMatchObject({ kind: 'inference', priority: 3 });
    expect(exported[1]).toMatchObject({ kind: 'alarm', priority: 1, payload: '{"code":"E-STOP"}' });
  });

  it('serves the RPC on stdin/stdout with the journal and the config of this agent', async () => {
    const { config } = await setup();
    await runAgent(['ingest', '--config', config], { stdin: Array.from({ length: 12 }, (_, i) => `{"priority":1,"kind":"k","payload":${i}}`).join('\n') });
    const child: ChildProcess = spawn(process.execPath, [agentEntry, 'rpc', '--config', config], { stdio: ['pipe', 'pipe', 'pipe'] });
    cleanups.push(() => { child.kill('SIGKILL'); });
    if (child.stdout === null || child.stdin === null) throw new Error('no stdio');
    const client = createAgentRpcClient({ readable: child.stdout, writable: child.stdin }, { timeoutMs: 10_000 });
    const hello = await client.call('hello', { client: 'agent-cli-test' });
    expect(hello).toMatchObject({ ok: true, value: { device_id: 'pi-07', agent_version: pkg.version } });
    const info = await client.call('journal.info', {});
    expect(info).toMatchObject({ ok: true, value: { journals: [{ last_seq: 12, records: 12 }] } });
    const got = await client.call('config.get', {});
    expect(got.ok && AgentConfigSchema.parse(got.value.config).device_id).toBe('pi-07');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    client.close();
    expect(await exited).toBe(0);
  });
});
