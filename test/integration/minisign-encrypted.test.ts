/**
 * Password-protected minisign keys (scrypt, as `minisign -G` makes them) both ways with
 * Debian's minisign 0.11: fieldkit signs with a stock protected key given the password in
 * FIELDKIT_KEY_PASSWORD, refuses a wrong or missing one, and the stock tool signs with a key
 * `fieldkit keygen --encrypt` protected. Each key derivation takes 1 GiB and a few seconds.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliProcess } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';

const execFileAsync = promisify(execFile);
const dir = makeTempDir('fieldkit-minisign-enc-');
const at = (name: string) => path.join(dir.path, name);
const password = 'correct horse battery staple';

/** The stock tool reads passwords from stdin when it is not a terminal. */
function minisignWithPassword(args: string[], input: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('minisign', args, { cwd: dir.path, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stderr });
    });
    child.stdin.end(input);
  });
}

function fieldkit(args: string[], keyPassword?: string) {
  return runCliProcess(args, { FIELDKIT_DATA_DIR: at('data'), ...(keyPassword === undefined ? {} : { FIELDKIT_KEY_PASSWORD: keyPassword }) });
}

beforeAll(async () => {
  writeFileSync(at('release.txt'), 'release notes\n');
  const generated = await minisignWithPassword(['-G', '-p', at('stock.pub'), '-s', at('stock.key')], `${password}\n${password}\n`);
  expect(generated.code, generated.stderr).toBe(0);
}, 60_000);

afterAll(() => {
  dir.remove();
});

describe('password-protected minisign keys', () => {
  it('signs with a stock protected key, given its password, and the stock tool verifies it', async () => {
    const signed = await fieldkit(['sign', at('release.txt'), '--key', at('stock.key')], password);
    expect(signed.code, signed.stderr).toBe(0);
    await execFileAsync('minisign', ['-V', '-p', at('stock.pub'), '-m', at('release.txt')]);
  });

  it('refuses a wrong password, and a missing one with where to put it', async () => {
    const wrong = await fieldkit(['sign', at('release.txt'), '--key', at('stock.key')], 'Correct horse battery staple');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('error: Wrong password for this minisign secret key.');
    const missing = await fieldkit(['sign', at('release.txt'), '--key', at('stock.key')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('protected by a password, and no password was given');
    expect(missing.stderr).toContain('FIELDKIT_KEY_PASSWORD');
  });

  it('protects a new key with `keygen --encrypt`, and the stock tool signs with it given the password', async () => {
    const made = await fieldkit(['keygen', '--encrypt', '--out', at('ours')], password);
    expect(made.code, made.stderr).toBe(0);
    expect(statSync(at('ours/fieldkit.key')).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(at('ours/fieldkit.key'), 'utf8').split('\n')[1] ?? '', 'base64').toString('latin1', 2, 4)).toBe('Sc');
    const signed = await minisignWithPassword(['-S', '-s', at('ours/fieldkit.key'), '-m', at('release.txt'), '-x', at('release.stock.minisig')], `${password}\n`);
    expect(signed.code, signed.stderr).toBe(0);
    const verified = await fieldkit(['verify', at('release.txt'), '--pub', at('ours/fieldkit.pub'), '--sig', at('release.stock.minisig')]);
    expect(verified.code, verified.stderr).toBe(0);
  });

  it('will not encrypt without a password', async () => {
    const run = await fieldkit(['keygen', '--encrypt', '--out', at('nopass')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('--encrypt needs a password in $FIELDKIT_KEY_PASSWORD');
  });
});
