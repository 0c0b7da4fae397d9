import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalLink } from '../../electron/kernel/link/localLink.ts';
import { makeTempDir } from '../support/tempDir.ts';

describe('local link', () => {
  const dir = makeTempDir();
  const link = createLocalLink();
  afterAll(() => {
    dir.remove();
  });

  it('runs commands with exit code, stdout, stderr and stdin', async () => {
    const result = await link.exec('cat; echo oops >&2; exit 4', { stdin: 'hello' });
    expect(result.code).toBe(4);
    expect(result.stdout.toString()).toBe('hello');
    expect(result.stderr.toString()).toBe('oops\n');
    await expect(link.exec('sleep 5', { timeoutMs: 100 })).rejects.toThrow(/did not finish/);
  });

  it('copies a file and verifies it before it takes its name', async () => {
    const source = join(dir.path, 'src.bin');
    const data = randomBytes(3 * 1024 * 1024);
    writeFileSync(source, data);
    const target = join(dir.path, 'dst.bin');
    const result = await link.upload(source, target);
    expect(result.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    expect(readFileSync(target).equals(data)).toBe(true);
    expect(existsSync(`${target}.fieldkit-part`)).toBe(false);
  });

  it('streams bytes both ways through a command', async () => {
    const stream = await link.openStream('cat');
    const got = new Promise<string>((resolve) => {
      stream.readable.on('data', (c: Buffer) => {
        resolve(c.toString());
      });
    });
    stream.writable.write('ping');
    expect(await got).toBe('ping');
    stream.close();
    await stream.exit;
  });
});
