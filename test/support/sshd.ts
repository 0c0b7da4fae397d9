/**
 * A real OpenSSH server on 127.0.0.1 for tests: throwaway host key and config, a test
 * user with a known password. Needs root (sshd drops privileges per session).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { freePort } from '../../electron/kernel/net/freePort.ts';
import { join } from 'node:path';
import { makeTempDir } from './tempDir.ts';

export const testUser = 'fieldkit-test';
export const testPassword = 'correct horse battery staple';

export type Sshd = {
  port: number;
  hostKeyPub: string;
  /** The fingerprint as `ssh-keygen -lf` prints it: the oracle for ours. */
  fingerprint: string;
  /** Restarts the server with a new host key (a reinstalled Pi, or an impostor). */
  rotateHostKey(): Promise<void>;
  /** Kills every session of this server (a cut link) but keeps it listening. */
  killSessions(): void;
  stop(): Promise<void>;
};

/** Creates the test user once (idempotent) and sets its password. */
export function ensureTestUser(): void {
  try {
    execFileSync('id', [testUser], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--create-home', '--shell', '/bin/bash', testUser]);
  }
  execFileSync('chpasswd', { input: `${testUser}:${testPassword}\n` });
  // ~/.ssh is left alone: tests run in parallel, each with its own app key, so a key
  // installed by one never lets another in.
}


function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect(port, '127.0.0.1');
      socket.once('data', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`sshd did not answer on port ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** Every process below `pid`, deepest last. */
function descendants(pid: number): number[] {
  let children: number[];
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
  return children.flatMap((c) => [c, ...descendants(c)]);
}

export async function startSshd(): Promise<Sshd> {
  ensureTestUser();
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = makeTempDir('fieldkit-sshd-');
  const port = await freePort();
  const hostKey = join(dir.path, 'host_ed25519');
  const config = join(dir.path, 'sshd_config');
  let child: ChildProcess | null = null;
  let state = { hostKeyPub: '', fingerprint: '' };

  function makeHostKey(): void {
    rmSync(hostKey, { force: true });
    rmSync(`${hostKey}.pub`, { force: true });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    const pub = execFileSync('cat', [`${hostKey}.pub`], { encoding: 'utf8' }).trim();
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`], { encoding: 'utf8' }).split(' ')[1] ?? '';
    state = { hostKeyPub: pub, fingerprint };
  }

  async function start(): Promise<void> {
    writeFileSync(
      config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        `PidFile ${join(dir.path, 'sshd.pid')}`,
        'PasswordAuthentication yes',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        'UsePAM no',
        'PermitRootLogin no',
        'StrictModes no',
        `AllowUsers ${testUser}`,
        'Subsystem sftp internal-sftp',
        'LogLevel ERROR',
        'MaxStartups 50',
        'MaxSessions 50',
        '',
      ].join('\n'),
    );
    child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    await waitForPort(port, 5000);
  }

  async function stopServer(): Promise<void> {
    const c = child;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => {
        resolve();
      });
      c.kill('SIGTERM');
    });
    child = null;
  }

  makeHostKey();
  await start();
  return {
    port,
    get hostKeyPub() {
      return state.hostKeyPub;
    },
    get fingerprint() {
      return state.fingerprint;
    },
    async rotateHostKey() {
      await stopServer();
      makeHostKey();
      await start();
    },
    killSessions() {
      // Each connection is served by a tree of processes under this listener (the
      // privileged monitor, the user's session, the command): kill the whole tree, and
      // only this server's (other tests' servers run beside it).
      const pid = child?.pid;
      if (pid === undefined) return;
      for (const session of descendants(pid)) {
        try {
          process.kill(session, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
    async stop() {
      await stopServer();
      dir.remove();
    },
  };
}
