import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFieldkitError } from '../../shared/errors.ts';
import type { Link } from '../../electron/kernel/link/linkApi.ts';
import { connectSerial } from '../../electron/kernel/link/serialLink.ts';
import { printk, startLoginConsole, type TestConsole } from '../support/serialConsole.ts';
import { testPassword, testUser } from '../support/sshd.ts';
import { makeTempDir } from '../support/tempDir.ts';

/** The serial link against agetty + login on a socat PTY: what a Pi's UART console is. */
describe('serial console link', () => {
  const dir = makeTempDir();
  let tty: TestConsole;
  let link: Link;
  let remoteTty = '';

  beforeAll(async () => {
    tty = await startLoginConsole();
    link = await connectSerial({ target: { path: tty.path }, credentials: { username: testUser, password: testPassword } });
    remoteTty = (await link.exec('tty')).stdout.toString().trim();
  }, 60_000);

  afterAll(async () => {
    await link.close();
    await tty.stop();
    dir.remove();
  });

  it('logs in through agetty and runs commands with exit codes and stderr', async () => {
    expect(remoteTty).toMatch(/^\/dev\/pts\/\d+$/);
    const result = await link.exec('echo "hé"; echo oops >&2; exit 7');
    expect(result.code).toBe(7);
    expect(result.stdout.toString()).toBe('hé\n');
    expect(result.stderr.toString()).toBe('oops\n');
    expect((await link.exec(`whoami`)).stdout.toString()).toBe(`${testUser}\n`);
  });

  it('keeps command output clean while kernel messages interleave', async () => {
    const noise = setInterval(() => {
      printk(remoteTty, 'usb 1-1.2: new high-speed USB device number 5 using xhci_hcd');
    }, 30);
    try {
      const result = await link.exec('for i in 1 2 3 4 5; do echo line$i; sleep 0.05; done');
      expect(result.code).toBe(0);
      expect(result.stdout.toString()).toBe('line1\nline2\nline3\nline4\nline5\n');
    } finally {
      clearInterval(noise);
    }
  });

  it('passes stdin, small and large', async () => {
    expect((await link.exec('wc -c', { stdin: 'abc' })).stdout.toString().trim()).toBe('3');
    const big = randomBytes(6000);
    const result = await link.exec('sha256sum', { stdin: big });
    expect(result.stdout.toString()).toContain(createHash('sha256').update(big).digest('hex'));
  });

  it('uploads a small file in checksummed chunks', async () => {
    const local = join(dir.path, 'config.json');
    const data = randomBytes(9000);
    writeFileSync(local, data);
    const progress: number[] = [];
    const result = await link.upload(local, `/tmp/fieldkit-serial-upload-${process.pid}`, { onProgress: (d) => progress.push(d) });
    expect(result.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    expect(progress.at(-1)).toBe(data.length);
    const check = await link.exec(`sha256sum /tmp/fieldkit-serial-upload-${process.pid}; rm -f /tmp/fieldkit-serial-upload-${process.pid}`);
    expect(check.stdout.toString()).toContain(result.sha256);
  });

  it('hands the line to a command in raw mode: every byte passes, then the shell is back', async () => {
    const stream = await link.openStream('head -c 8 | od -An -tx1');
    const bytes = Buffer.from([0x00, 0x03, 0x04, 0x1b, 0x0d, 0x0a, 0x7f, 0xff]);
    const out: Buffer[] = [];
    stream.readable.on('data', (c: Buffer) => out.push(c));
    stream.writable.write(bytes);
    const { code } = await stream.exit;
    expect(code).toBe(0);
    expect(Buffer.concat(out).toString('latin1')).toContain('00 03 04 1b 0d 0a 7f ff');
    expect((await link.exec('echo back')).stdout.toString()).toBe('back\n');
  });

  it('refuses a wrong password with AUTH_FAILED', async () => {
    const other = await startLoginConsole();
    try {
      await connectSerial({ target: { path: other.path }, credentials: { username: testUser, password: 'nope' } });
      throw new Error('expected a refusal');
    } catch (error) {
      expect(isFieldkitError(error) && error.appError.code).toBe('AUTH_FAILED');
    } finally {
      await other.stop();
    }
  }, 30_000);
});
