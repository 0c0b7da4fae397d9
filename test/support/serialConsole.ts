/**
 * A serial console for tests: a socat PTY pair with agetty and a real login on the far
 * end, as on a Pi's UART (serial-getty). The near end is opened with serialport.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureTestUser, testUser } from './sshd.ts';
import { makeTempDir } from './tempDir.ts';

export type TestConsole = { path: string; stop(): Promise<void> };

export function startLoginConsole(): Promise<TestConsole> {
  return startConsole('exec:/sbin/agetty --noclear -L - 115200 vt100,pty,setsid,ctty,stderr');
}

/** A console with autologin (as many Pi images configure the UART): a shell at once. */
export function startShellConsole(): Promise<TestConsole> {
  return startConsole(`exec:/usr/sbin/runuser -l ${testUser},pty,setsid,ctty,stderr`);
}

async function startConsole(farEnd: string): Promise<TestConsole> {
  ensureTestUser();
  const dir = makeTempDir('fieldkit-serial-');
  const path = join(dir.path, 'ttyFK0');
  const child: ChildProcess = spawn('socat', [`pty,link=${path},raw,echo=0`, farEnd], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 20));
  if (!existsSync(path)) throw new Error('socat did not create the PTY');
  return {
    path,
    stop: async () => {
      if (child.exitCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => {
            resolve();
          });
          child.kill('SIGTERM');
        });
      }
      dir.remove();
    },
  };
}

/** Writes a kernel-style message to the console's terminal, as printk would. */
export function printk(ttyPath: string, text: string): void {
  writeFileSync(ttyPath, `[ ${(performance.now() / 1000).toFixed(6).padStart(12)}] ${text}\r\n`);
}
