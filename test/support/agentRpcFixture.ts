/**
 * An agent to talk RPC to, for tests and the bench: a temp data dir with a config (health
 * read from a copy of the Pi 5 fixture tree, with a boot_id), the real journal filled with
 * events, and the real `fieldkit-agent rpc` (agent/main.ts) as a child process on a pipe.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentConfigSchema, type AgentConfig, type AgentConfigInput } from '../../shared/agentConfig.ts';
import type { IngestEvent, Priority } from '../../shared/journal.ts';
import { createConfigStore } from '../../agent/config/loadConfig.ts';
import { createHealthSource } from '../../agent/health/healthSource.ts';
import { openJournalForConfig } from '../../agent/journal/openJournal.ts';
import type { AppendResult, Journal } from '../../agent/journal/journalApi.ts';
import type { RpcDeps } from '../../agent/rpc/rpcApi.ts';
import { makeTempDir } from './tempDir.ts';

/** The agent's command line, run from source: `node agent/main.ts --config <path> rpc`. */
export const agentCliEntry = join(import.meta.dirname, '../../agent/main.ts');

/** The argv that serves RPC for a config (after the node binary). */
export function agentRpcArgs(configPath: string): string[] {
  return [agentCliEntry, '--config', configPath, 'rpc'];
}
const fixtureTree = join(import.meta.dirname, '../fixtures/pi-sys/pi5-healthy');
export const fixtureBootId = '6f1c0c56-3a4e-4a7e-9b1e-2f0d1c9a7b42';

export type AgentRpcChild = {
  child: ChildProcess;
  readable: NodeJS.ReadableStream;
  writable: NodeJS.WritableStream;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

export type AgentRpcRig = {
  dir: string;
  configPath: string;
  config: AgentConfig;
  /** Opens the journal in this process (the child opens its own: WAL allows both). */
  journal(): Journal;
  /** The real journal, health source and config store in this process, for serveRpc in-process. */
  deps(agentVersion?: string): RpcDeps;
  /** Appends `count` events (JSON payloads of about `payloadBytes`), in transactions of `perTransaction`. */
  fill(count: number, options?: { payloadBytes?: number; priority?: (i: number) => Priority; perTransaction?: number }): AppendResult[];
  start(): AgentRpcChild;
  remove(): void;
};

/** The payload of event `i`: JSON text of about `bytes` bytes. */
export function fixturePayload(i: number, bytes: number): { i: number; pad: string } {
  return { i, pad: 'x'.repeat(Math.max(0, bytes - 20 - String(i).length)) };
}

export function createAgentRpcRig(overrides: Partial<AgentConfigInput> = {}): AgentRpcRig {
  const tmp = makeTempDir('fieldkit-rpc-');
  const root = join(tmp.path, 'pi');
  cpSync(fixtureTree, root, { recursive: true });
  mkdirSync(join(root, 'proc/sys/kernel/random'), { recursive: true });
  writeFileSync(join(root, 'proc/sys/kernel/random/boot_id'), `${fixtureBootId}\n`);
  const input: AgentConfigInput = {
    device_id: 'pi-07',
    site: 'north-field',
    data_dir: join(tmp.path, 'data'),
    model_version: 'yolov8n-2026.01',
    health: { proc_root: join(root, 'proc'), sys_root: join(root, 'sys'), vcgencmd: join(root, 'bin/vcgencmd'), nvme: join(root, 'bin/nvme'), interval_ms: 1000 },
    ...overrides,
  };
  const config = AgentConfigSchema.parse(input);
  mkdirSync(config.data_dir, { recursive: true });
  const configPath = join(tmp.path, 'config.json');
  writeFileSync(configPath, `${JSON.stringify(input, null, 2)}\n`);
  const children: ChildProcess[] = [];
  const journals: Journal[] = [];
  const closers: (() => void)[] = [];

  function journal(): Journal {
    const j = openJournalForConfig(config);
    journals.push(j);
    return j;
  }

  return {
    dir: tmp.path,
    configPath,
    config,
    journal,
    deps(agentVersion = '1.4.2-test') {
      const j = journal();
      const health = createHealthSource({ config, journal: j, agentVersion });
      closers.push(() => {
        health.close();
      });
      return { journal: j, health, config: createConfigStore(configPath, config), agentVersion };
    },
    fill(count, options = {}) {
      const payloadBytes = options.payloadBytes ?? 200;
      const perTransaction = options.perTransaction ?? 10_000;
      const priority = options.priority ?? (() => 3);
      const j = openJournalForConfig(config);
      try {
        const results: AppendResult[] = [];
        for (let from = 0; from < count; from += perTransaction) {
          const events: IngestEvent[] = [];
          for (let i = from; i < Math.min(count, from + perTransaction); i++) {
            events.push({ ts_ms: 1_767_225_600_000 + i, priority: priority(i), kind: 'inference', payload: fixturePayload(i, payloadBytes) });
          }
          results.push(j.append(events, Date.now()));
        }
        return results;
      } finally {
        j.close();
      }
    },
    start() {
      const child = spawn(process.execPath, agentRpcArgs(configPath), { stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(child);
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        child.once('exit', (code, signal) => {
          resolve({ code, signal });
        });
      });
      return { child, readable: child.stdout, writable: child.stdin, stderr: () => stderr, exited };
    },
    remove() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      for (const close of closers) close();
      for (const j of journals) {
        try {
          j.close();
        } catch {
          // A test may have closed it already (to make the journal fail on purpose).
        }
      }
      tmp.remove();
    },
  };
}
