/**
 * Debian's mosquitto on 127.0.0.1, on a free port, with a throwaway config (and, when
 * asked, persistence in a temp folder so sessions and queued messages survive a restart).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { freePort } from '../../electron/kernel/net/freePort.ts';
import { join } from 'node:path';
import { makeTempDir } from './tempDir.ts';

export { freePort };

export type Mosquitto = { port: number; url: string; stop(): Promise<void>; start(): Promise<void>; remove(): Promise<void> };


function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

export async function startMosquitto(options: { persistence?: boolean } = {}): Promise<Mosquitto> {
  const dir = makeTempDir('fieldkit-mosquitto-');
  const port = await freePort();
  const conf = join(dir.path, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      options.persistence === true ? `persistence true\npersistence_location ${dir.path}/` : 'persistence false',
      'log_dest none',
      // Run as root, mosquitto would switch to the mosquitto user, which cannot write the temp folder.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      '',
    ].join('\n'),
  );
  let child: ChildProcess | null = null;

  async function start(): Promise<void> {
    const proc = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`mosquitto did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function stop(): Promise<void> {
    const proc = child;
    child = null;
    if (proc === null || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => {
      resolve();
    }));
    proc.kill('SIGTERM');
    await exited;
  }

  await start();
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    start,
    stop,
    async remove() {
      await stop();
      dir.remove();
    },
  };
}
