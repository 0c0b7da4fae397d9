/**
 * A real clickhouse-server (Debian's 18.16) for tests: a throwaway config and data dir,
 * HTTP and native TCP on free 127.0.0.1 ports, started in well under a second. One per
 * test file; `kill()` and `start()` let a test pull the plug mid-forward and bring the
 * same server (same ports, same data) back.
 */
import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { clickHouseConfigXml, clickHouseUsersXml } from '../../electron/demo/clickhouseConfig.ts';
import { freePort } from '../../electron/kernel/net/freePort.ts';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir } from './tempDir.ts';

const SERVER_BINARIES = ['/usr/bin/clickhouse-server', '/usr/sbin/clickhouse-server'];
const CLIENT_BINARY = '/usr/bin/clickhouse-client';

export type ClickHouseServer = {
  readonly url: string;
  readonly httpPort: number;
  readonly tcpPort: number;
  readonly dir: string;
  /** Runs one statement over HTTP and returns the body (TabSeparated unless the SQL says FORMAT). */
  query(sql: string): Promise<string>;
  /** Runs one statement with clickhouse-client over the native protocol: an oracle independent of HTTP. */
  client(sql: string): Promise<string>;
  /** SIGKILL, as a power cut or OOM would; resolves when the process is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data (after kill or stop). */
  start(): Promise<void>;
  /** Stops it (SIGKILL: its data is discarded anyway) and removes its files. */
  stop(): Promise<void>;
};


/** Extra users beside `default` (which has no password), each with a plain password: 18.16 has no CREATE USER. */
export type ClickHouseUser = { name: string; password: string };

async function httpQuery(url: string, sql: string): Promise<string> {
  const response = await fetch(url, { method: 'POST', body: sql, signal: AbortSignal.timeout(30_000) });
  const body = await response.text();
  if (!response.ok) throw new Error(`ClickHouse answered ${response.status}: ${body.trim()}`);
  return body;
}

export async function startClickHouseServer(options: { users?: readonly ClickHouseUser[] } = {}): Promise<ClickHouseServer> {
  const binary = SERVER_BINARIES.find((p) => existsSync(p));
  if (binary === undefined) throw new Error('clickhouse-server is not installed: apt-get install clickhouse-server clickhouse-client');
  const tmp = makeTempDir('fieldkit-clickhouse-');
  const dir = tmp.path;
  mkdirSync(join(dir, 'data'), { recursive: true });
  const httpPort = await freePort();
  const tcpPort = await freePort();
  writeFileSync(join(dir, 'config.xml'), clickHouseConfigXml(dir, httpPort, tcpPort));
  writeFileSync(join(dir, 'users.xml'), clickHouseUsersXml(options.users ?? []));
  const url = `http://127.0.0.1:${httpPort}/`;
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  async function start(): Promise<void> {
    if (child !== null) throw new Error('clickhouse-server is already running');
    const proc = spawn(binary as string, [`--config-file=${join(dir, 'config.xml')}`], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child = proc;
    const state = { running: true };
    exited = new Promise((resolve) => proc.once('exit', () => {
      state.running = false;
      child = null;
      resolve();
    }));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (!state.running) {
        const log = existsSync(join(dir, 'server.err.log')) ? readFileSync(join(dir, 'server.err.log'), 'utf8') : '';
        throw new Error(`clickhouse-server exited at start: ${stderr}${log.slice(-2000)}`);
      }
      try {
        if ((await httpQuery(url, 'SELECT 1')).trim() === '1') return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw new Error('clickhouse-server did not answer SELECT 1 within 20 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function signal(sig: NodeJS.Signals): Promise<void> {
    if (child === null) return;
    child.kill(sig);
    await exited;
  }

  await start();
  return {
    url,
    httpPort,
    tcpPort,
    dir,
    query: (sql) => httpQuery(url, sql),
    async client(sql) {
      const { stdout } = await promisify(execFile)(CLIENT_BINARY, ['--host', '127.0.0.1', '--port', String(tcpPort), '--query', sql], { timeout: 30_000 });
      return stdout;
    },
    kill: () => signal('SIGKILL'),
    start,
    async stop() {
      // The data is thrown away, and 18.16's graceful shutdown waits ~8 s for idle
      // connections: a kill is both faster and enough.
      await signal('SIGKILL');
      tmp.remove();
    },
  };
}
