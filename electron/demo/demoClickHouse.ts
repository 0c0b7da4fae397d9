/**
 * The demo's own ClickHouse: when a server binary is installed on this computer (Debian's
 * `clickhouse-server`, or the single `clickhouse` binary of Homebrew and the official
 * builds), the demo starts one on 127.0.0.1 with its data in the demo folder, so a newcomer
 * can pull, forward and reconcile without setting anything up. When none is installed it
 * says so and how to get one — it never downloads anything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { freePort } from '../kernel/net/freePort.ts';
import { clickHouseConfigXml, clickHouseUsersXml } from './clickhouseConfig.ts';

export type ClickHouseCommand = { command: string; args: readonly string[] };

/** What to do on a computer without a ClickHouse server, in one sentence a newcomer can follow. */
export const getClickHouseHint =
  'Install a ClickHouse server and start the demo again: on Debian/Ubuntu `sudo apt install clickhouse-server`, on macOS `brew install clickhouse` — the demo then starts its own on 127.0.0.1. Or set the URL of any ClickHouse in Settings → ClickHouse.';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where servers are installed but a user's PATH often does not look (sbin, Homebrew). */
const usualDirs = ['/usr/sbin', '/usr/local/bin', '/opt/homebrew/bin'];

function onPath(name: string, env: NodeJS.ProcessEnv, extraDirs: readonly string[]): string | null {
  const dirs = [...(env.PATH ?? '').split(delimiter), ...extraDirs].filter((d) => d !== '');
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (executable(candidate)) return candidate;
  }
  return null;
}

/** How to start a ClickHouse server here, or null when none is installed. */
export function findClickHouseServer(env: NodeJS.ProcessEnv = process.env, extraDirs: readonly string[] = usualDirs): ClickHouseCommand | null {
  const server = onPath('clickhouse-server', env, extraDirs);
  if (server !== null) return { command: server, args: [] };
  const single = onPath('clickhouse', env, extraDirs);
  if (single !== null) return { command: single, args: ['server', '--'] };
  return null;
}

export type DemoClickHouse = { url: string; stop(): Promise<void> };
export type DemoClickHouseOutcome = { started: DemoClickHouse } | { unavailable: string; hint: string };

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { method: 'POST', body: 'SELECT 1', signal: AbortSignal.timeout(2000) });
    return response.ok && (await response.text()).trim() === '1';
  } catch {
    return false;
  }
}

/** The port the demo used last time when it is still free, so the saved URL stays valid. */
async function choosePort(file: string): Promise<number> {
  const previous = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : NaN;
  if (Number.isInteger(previous) && previous > 1024 && previous < 65536) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => { resolve(false); });
      probe.listen(previous, '127.0.0.1', () => probe.close(() => { resolve(true); }));
    });
    if (free) return previous;
  }
  return freePort();
}

/** A server a crashed app left behind holds the data folder's lock: end it first. */
function endLeftover(pidFile: string): void {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.includes('clickhouse')) process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already, or not Linux: nothing to end.
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.once('exit', () => { resolve(); });
    child.kill('SIGTERM');
    // 18.16 waits ~8 s for idle connections on SIGTERM; its parts are complete on disk either way.
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

export async function startDemoClickHouse(options: { demoDir: string; server?: ClickHouseCommand | null; startTimeoutMs?: number }): Promise<DemoClickHouseOutcome> {
  const server = options.server === undefined ? findClickHouseServer() : options.server;
  if (server === null) return { unavailable: 'no ClickHouse server is installed on this computer', hint: getClickHouseHint };
  const dir = join(options.demoDir, 'clickhouse');
  mkdirSync(join(dir, 'data'), { recursive: true });
  endLeftover(join(dir, 'pid'));
  const httpPort = await choosePort(join(dir, 'http-port'));
  const tcpPort = await freePort();
  writeFileSync(join(dir, 'config.xml'), clickHouseConfigXml(dir, httpPort, tcpPort));
  writeFileSync(join(dir, 'users.xml'), clickHouseUsersXml());
  const url = `http://127.0.0.1:${httpPort}/`;
  const child = spawn(server.command, [...server.args, `--config-file=${join(dir, 'config.xml')}`], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (;;) {
    const failed = await Promise.race([spawnError, new Promise<null>((resolve) => setTimeout(() => { resolve(null); }, 100))]);
    if (failed !== null || child.exitCode !== null) {
      const log = existsSync(join(dir, 'server.err.log')) ? readFileSync(join(dir, 'server.err.log'), 'utf8').slice(-1500) : '';
      const why = failed?.message ?? (`${stderr}\n${log}`.trim() || `it exited with code ${String(child.exitCode)}`);
      return { unavailable: `the demo's ClickHouse (${server.command}) did not start: ${why}`, hint: getClickHouseHint };
    }
    if (await answers(url)) break;
    if (Date.now() > deadline) {
      await stopChild(child);
      return { unavailable: `the demo's ClickHouse (${server.command}) did not answer within ${Math.round((options.startTimeoutMs ?? 30_000) / 1000)} s`, hint: getClickHouseHint };
    }
  }
  writeFileSync(join(dir, 'http-port'), String(httpPort));
  if (child.pid !== undefined) writeFileSync(join(dir, 'pid'), String(child.pid));
  return { started: { url, stop: () => stopChild(child) } };
}
