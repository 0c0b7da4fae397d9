/**
 * The x64 bundle as a Pi would run it, unpacked into a temp prefix and started through its
 * launcher on its own Node 24: it ingests over HTTP and from Debian's mosquitto, loses no
 * acknowledged event when it is killed -9 under concurrent producers (three times), serves
 * /health and /metrics that `promtool check metrics` accepts, and answers the RPC over a pipe.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentRpcClient } from '../../electron/kernel/link/agentRpcClient.ts';
import { verifyJournalBatch } from '../../electron/kernel/link/verifyJournalBatch.ts';
import { writeNewKeyPair } from '../../electron/kernel/signing/keyFiles.ts';
import type { AgentConfigInput } from '../../shared/agentConfig.ts';
import { JournalRecordSchema, type JournalRecord } from '../../shared/journal.ts';
import packageJson from '../../package.json' with { type: 'json' };
import { freePort, startMosquitto, type Mosquitto } from '../support/mosquitto.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { recordsBatches } from '../support/recordsBatch.ts';

const repoRoot = path.join(import.meta.dirname, '..', '..');
const dir = makeTempDir('fieldkit-agent-e2e-');
const at = (...parts: string[]) => path.join(dir.path, ...parts);
const prefix = at('opt', 'fieldkit-agent');
const launcher = path.join(prefix, 'bin', 'fieldkit-agent');
const configPath = at('etc', 'config.json');
let broker: Mosquitto;
let port: number;
let agent: ChildProcess | null = null;

type Run = { code: number | null; stdout: string; stderr: string };
function run(command: string, args: readonly string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: dir.path, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `fieldkit-agent run` from the unpacked bundle and waits until /health answers. */
async function startAgent(): Promise<ChildProcess> {
  const child = spawn(launcher, ['--config', configPath, 'run'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  agent = child;
  await waitFor(`the agent to answer /health (stderr: ${stderr})`, async () => {
    if (child.exitCode !== null) throw new Error(`the agent exited ${child.exitCode}: ${stderr}`);
    return (await fetch(`http://127.0.0.1:${port}/health`)).ok;
  });
  return child;
}

async function killAgent(signal: NodeJS.Signals): Promise<void> {
  const child = agent;
  agent = null;
  if (child === null || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    resolve();
  }));
  child.kill(signal);
  await exited;
}

async function exportAll(): Promise<JournalRecord[]> {
  const exported = await run(launcher, ['--config', configPath, 'export']);
  expect(exported.code, exported.stderr).toBe(0);
  return exported.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JournalRecordSchema.parse(JSON.parse(l)));
}

function postNdjson(lines: unknown[]): Promise<{ status: number; body: { accepted?: number; first_seq?: number; last_seq?: number } }> {
  return fetch(`http://127.0.0.1:${port}/v1/events`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-ndjson' },
    body: lines.map((l) => JSON.stringify(l)).join('\n') + '\n',
  }).then(async (res) => ({ status: res.status, body: (await res.json()) as { accepted?: number; first_seq?: number; last_seq?: number } }));
}

beforeAll(async () => {
  const keys = await writeNewKeyPair(at('keys'));
  const build = await run(process.execPath, [path.join(repoRoot, 'build', 'bundle-agent.ts'), '--arch', 'x64', '--key', keys.secretKeyFile, '--out', at('dist'), '--prefix', prefix]);
  if (build.code !== 0) throw new Error(`build/bundle-agent.ts failed:\n${build.stderr}`);
  mkdirSync(prefix, { recursive: true });
  const unpacked = await run('tar', ['-xf', at('dist', `fieldkit-agent-${packageJson.version}-linux-x64.tar`), '-C', prefix]);
  expect(unpacked.code, unpacked.stderr).toBe(0);

  // A Pi 5's /proc and /sys, in their real formats, for the health sampler.
  const pi = at('pi');
  cpSync(path.join(repoRoot, 'test', 'fixtures', 'pi-sys', 'pi5-healthy'), pi, { recursive: true });
  broker = await startMosquitto();
  port = await freePort();
  const config: AgentConfigInput = {
    device_id: 'pi-e2e-01',
    site: 'test-bench',
    data_dir: at('var', 'lib', 'fieldkit-agent'),
    model_version: 'yolov8n-e2e',
    ingest: { port },
    mqtt: { url: broker.url, client_id: 'fieldkit-agent-e2e', subscriptions: [{ topic: 'sensors/#', kind: 'telemetry', priority: 2 }] },
    health: { proc_root: path.join(pi, 'proc'), sys_root: path.join(pi, 'sys'), vcgencmd: path.join(pi, 'bin', 'vcgencmd'), nvme: path.join(pi, 'bin', 'nvme'), interval_ms: 1000 },
  };
  mkdirSync(path.dirname(configPath), { recursive: true });
  mkdirSync(at('var', 'lib', 'fieldkit-agent'), { recursive: true });
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  await startAgent();
}, 180_000);

afterAll(async () => {
  await killAgent('SIGKILL');
  await broker.remove();
  dir.remove();
});

describe('the unpacked x64 bundle, running', () => {
  it('ingests an NDJSON batch over HTTP, acknowledged after commit', async () => {
    const events = Array.from({ length: 50 }, (_, i) => ({ priority: 3, kind: 'inference', payload: { source: 'http', i, latency_ms: 30 + (i % 7) } }));
    const { status, body } = await postNdjson(events);
    expect(status).toBe(200);
    expect(body).toMatchObject({ accepted: 50, first_seq: 1, last_seq: 50 });
  });

  it('ingests from mosquitto (QoS 1), under the subscription’s kind and priority', async () => {
    const producer = await connectAsync(broker.url, { clientId: 'e2e-producer' });
    try {
      for (let i = 0; i < 20; i++) await producer.publishAsync(`sensors/field/${i % 3}`, JSON.stringify({ payload: { source: 'mqtt', i } }), { qos: 1 });
    } finally {
      await producer.endAsync();
    }
    let fromMqtt: JournalRecord[] = [];
    await waitFor('20 MQTT events in the journal', async () => {
      fromMqtt = (await exportAll()).filter((r) => (JSON.parse(r.payload) as { source?: string }).source === 'mqtt');
      return fromMqtt.length === 20;
    });
    expect(fromMqtt.every((r) => r.kind === 'telemetry' && r.priority === 2)).toBe(true);
    expect(fromMqtt.map((r) => (JSON.parse(r.payload) as { i: number }).i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('keeps every acknowledged event, with gapless seqs, through three kill -9s under concurrent producers', async () => {
    const acked = new Set<string>();
    for (let round = 0; round < 3; round++) {
      let stop = false;
      const producer = async (p: number) => {
        for (let n = 0; !stop; n++) {
          const ids = Array.from({ length: 25 }, (_, i) => `${round}-${p}-${n}-${i}`);
          try {
            const { status } = await postNdjson(ids.map((id) => ({ priority: 3, kind: 'load', payload: { id } })));
            if (status === 200) for (const id of ids) acked.add(id);
          } catch {
            return; // the agent is gone: whatever was not answered was not acknowledged
          }
        }
      };
      const producers = Array.from({ length: 4 }, (_, p) => producer(p));
      await new Promise((r) => setTimeout(r, 250 + round * 100)); // the point: kill -9 at a different moment of the load each round
      await killAgent('SIGKILL');
      stop = true;
      await Promise.all(producers);
      await startAgent();
    }
    const records = await exportAll();
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: records.length }, (_, i) => i + 1));
    const stored = new Set(records.map((r) => (JSON.parse(r.payload) as { id?: string }).id).filter((id) => id !== undefined));
    const missing = [...acked].filter((id) => !stored.has(id));
    expect(acked.size).toBeGreaterThan(100);
    expect(missing).toEqual([]);
  });

  it('serves /health, and /metrics that promtool accepts', async () => {
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    const metricsText = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    writeFileSync(at('metrics.txt'), metricsText);
    const checked = await run('promtool', ['check', 'metrics'], metricsText);
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
    expect(metricsText).toMatch(/device_id="pi-e2e-01"/);
  });

  it('answers the RPC over a pipe: hello, journal.info and a verified journal.read', async () => {
    const child = spawn(launcher, ['--config', configPath, 'rpc'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const client = createAgentRpcClient({ readable: child.stdout, writable: child.stdin });
    try {
      const hello = await client.call('hello', { client: 'agent-bundle-e2e' });
      if (!hello.ok) throw new Error(hello.error.message);
      expect(hello.value).toMatchObject({ agent_version: packageJson.version, device_id: 'pi-e2e-01', arch: 'x64' });
      const info = await client.call('journal.info', {});
      if (!info.ok) throw new Error(info.error.message);
      const journal = info.value.journals[0];
      if (journal === undefined) throw new Error('no journal');
      expect(journal.journal_id).toBe(hello.value.journal_id);
      const stream = client.stream('journal.read', { journal_id: journal.journal_id, after_seq: 0, batch_records: 500 }, { window: 2 });
      const seqs: number[] = [];
      for await (const batch of recordsBatches(stream)) {
        expect(verifyJournalBatch(batch).ok).toBe(true);
        seqs.push(...batch.records.map((r) => r.seq));
      }
      expect(seqs).toEqual(Array.from({ length: journal.records }, (_, i) => journal.first_seq + i));
      expect(seqs.at(-1)).toBe(journal.last_seq);
    } finally {
      client.close();
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) resolve();
        else child.once('exit', () => {
          resolve();
        });
      });
    }
  });
});
