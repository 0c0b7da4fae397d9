/**
 * fieldkit's minisign against Debian's `minisign` (0.11), both ways: the stock tool verifies
 * what `fieldkit sign` made and signs with keys `fieldkit keygen` wrote; fieldkit verifies
 * what the stock tool signed with its own `-G -W` keys. Both refuse the same tamperings.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPublicKey, readSecretKey, signFile, verifyFile } from '../../electron/kernel/signing/minisign.ts';
import { writeSignatureFile } from '../../electron/kernel/signing/keyFiles.ts';
import { formatKeyId } from '../../electron/kernel/signing/minisignFormat.ts';
import { isFieldkitError } from '../../shared/errors.ts';
import { runCliProcess } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';

const execFileAsync = promisify(execFile);
const dir = makeTempDir('fieldkit-minisign-');
const at = (name: string) => path.join(dir.path, name);

type Run = { code: number; stdout: string; stderr: string };
async function minisign(...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync('minisign', args, { cwd: dir.path });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

async function fieldkit(...args: string[]): Promise<Run> {
  const run = await runCliProcess(args, { FIELDKIT_DATA_DIR: at('data') });
  return { code: run.code ?? -1, stdout: run.stdout, stderr: run.stderr };
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isFieldkitError(error)) return error.appError;
    throw error;
  }
  throw new Error('expected a refusal');
}

beforeAll(async () => {
  writeFileSync(at('small.txt'), 'a small file\n');
  // Bigger than one read chunk, so the prehash streams.
  writeFileSync(at('big.bin'), randomBytes(3 * 1024 * 1024 + 17));
  expect((await minisign('-G', '-W', '-p', at('stock.pub'), '-s', at('stock.key'))).code).toBe(0);
  expect((await fieldkit('keygen', '--out', at('ours'))).code).toBe(0);
});

afterAll(() => {
  dir.remove();
});

describe('fieldkit keygen', () => {
  it('writes an owner-only secret key and a public key the stock tool prints the same id for', async () => {
    expect(statSync(at('ours/fieldkit.key')).mode & 0o777).toBe(0o600);
    const pub = readFileSync(at('ours/fieldkit.pub'), 'utf8');
    expect(pub).toMatch(/^untrusted comment: minisign public key [0-9A-F]{16}\nRW[A-Za-z0-9+/]{54}\n$/);
    // minisign -R rebuilds the public key from the secret key: it must come out identical.
    expect((await minisign('-R', '-s', at('ours/fieldkit.key'), '-p', at('rebuilt.pub'))).code).toBe(0);
    // (Compare the key line: 0.11 does not zero-pad the key id in the comment line.)
    expect(readFileSync(at('rebuilt.pub'), 'utf8').split('\n')[1]).toBe(pub.split('\n')[1]);
  });

  it('refuses to overwrite a key pair (exit 1, what to do)', async () => {
    const before = readFileSync(at('ours/fieldkit.key'), 'utf8');
    const run = await fieldkit('keygen', '--out', at('ours'));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('already exists; fieldkit does not overwrite keys');
    expect(run.stderr).toContain('what to do:');
    expect(readFileSync(at('ours/fieldkit.key'), 'utf8')).toBe(before);
  });

  it('reports the new key as JSON with --json', async () => {
    const run = await fieldkit('--json', 'keygen', '--out', at('json-keys'));
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as { keyId: string; publicKey: string; secretKeyFile: string };
    expect(printed.secretKeyFile).toBe(at('json-keys/fieldkit.key'));
    expect(readFileSync(at('json-keys/fieldkit.pub'), 'utf8')).toContain(printed.publicKey);
    expect(readFileSync(at('json-keys/fieldkit.pub'), 'utf8')).toContain(printed.keyId);
  });
});

describe('stock minisign accepts what fieldkit signs', () => {
  it('verifies `fieldkit sign` output, whose trusted comment carries a timestamp and the file name', async () => {
    const signed = await fieldkit('sign', at('big.bin'), '--key', at('ours/fieldkit.key'));
    expect(signed.code).toBe(0);
    const check = await minisign('-V', '-p', at('ours/fieldkit.pub'), '-m', at('big.bin'));
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/Trusted comment: timestamp:\d+\tfile:big\.bin\thashed/);
  });

  it('signs with a secret key fieldkit wrote (the stock tool reads our key file)', async () => {
    expect((await minisign('-S', '-s', at('ours/fieldkit.key'), '-m', at('small.txt'), '-x', at('small.by-stock.minisig'))).code).toBe(0);
    expect((await minisign('-V', '-p', at('ours/fieldkit.pub'), '-m', at('small.txt'), '-x', at('small.by-stock.minisig'))).code).toBe(0);
  });

  it('verifies fieldkit signatures made with a stock -W key, prehashed and legacy', async () => {
    const key = await readSecretKey(at('stock.key'));
    await writeSignatureFile(at('small.ours.minisig'), await signFile(key, at('small.txt'), { trustedComment: 'release 1.2.3' }));
    await writeSignatureFile(at('small.legacy.minisig'), await signFile(key, at('small.txt'), { trustedComment: 'legacy', algorithm: 'Ed' }));
    const prehashed = await minisign('-V', '-p', at('stock.pub'), '-m', at('small.txt'), '-x', at('small.ours.minisig'));
    expect(prehashed.code, prehashed.stderr).toBe(0);
    expect(prehashed.stdout).toContain('Trusted comment: release 1.2.3');
    expect((await minisign('-V', '-p', at('stock.pub'), '-m', at('small.txt'), '-x', at('small.legacy.minisig'))).code).toBe(0);
  });

  it('refuses, like fieldkit, a file changed after fieldkit signed it', async () => {
    writeFileSync(at('changed.txt'), 'version 1\n');
    expect((await fieldkit('sign', at('changed.txt'), '--key', at('ours/fieldkit.key'))).code).toBe(0);
    writeFileSync(at('changed.txt'), 'version 2\n');
    expect((await minisign('-V', '-p', at('ours/fieldkit.pub'), '-m', at('changed.txt'))).code).not.toBe(0);
    const ours = await fieldkit('verify', at('changed.txt'), '--pub', at('ours/fieldkit.pub'));
    expect(ours.code).toBe(1);
    expect(ours.stderr).toContain('changed.txt does not match its signature');
  });
});

describe('fieldkit accepts what stock minisign signs', () => {
  beforeAll(async () => {
    expect((await minisign('-S', '-s', at('stock.key'), '-m', at('big.bin'), '-x', at('big.stock.minisig'))).code).toBe(0);
    expect((await minisign('-S', '-l', '-s', at('stock.key'), '-m', at('small.txt'), '-x', at('small.stock-legacy.minisig'))).code).toBe(0);
  });

  it('verifies a prehashed stock signature with `fieldkit verify`', async () => {
    const run = await fieldkit('--json', 'verify', at('big.bin'), '--pub', at('stock.pub'), '--sig', at('big.stock.minisig'));
    expect(run.code, run.stderr).toBe(0);
    const keyId = formatKeyId((await readPublicKey(at('stock.pub'))).keyId);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, kind: 'file', keyId, algorithm: 'ED' });
  });

  it('verifies a legacy stock signature', async () => {
    const verified = await verifyFile(await readPublicKey(at('stock.pub')), at('small.txt'), at('small.stock-legacy.minisig'));
    expect(verified.algorithm).toBe('Ed');
    expect(verified.trustedComment).toContain('file:small.txt');
  });

  it('refuses a stock signature whose trusted comment was edited (and so does the stock tool)', async () => {
    const lines = readFileSync(at('big.stock.minisig'), 'utf8').split('\n');
    lines[2] = (lines[2] ?? '').replace(/timestamp:\d+/, 'timestamp:4102444800');
    writeFileSync(at('big.edited.minisig'), lines.join('\n'));
    expect((await minisign('-V', '-p', at('stock.pub'), '-m', at('big.bin'), '-x', at('big.edited.minisig'))).code).not.toBe(0);
    const error = await refusal(verifyFile(await readPublicKey(at('stock.pub')), at('big.bin'), at('big.edited.minisig')));
    expect(error.code).toBe('VERIFICATION_FAILED');
    expect(error.message).toContain('trusted comment');
  });

  it('refuses a stock signature checked against another key, naming both key ids', async () => {
    const run = await fieldkit('verify', at('big.bin'), '--pub', at('ours/fieldkit.pub'), '--sig', at('big.stock.minisig'));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/was signed with key [0-9A-F]{16}, not with the trusted key [0-9A-F]{16}/);
  });

  it('refuses a missing signature file with what to do', async () => {
    const run = await fieldkit('verify', at('small.txt'), '--pub', at('stock.pub'), '--sig', at('nope.minisig'));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('There is no signature at');
    expect(run.stderr).toContain('what to do: Check the path of the signature.');
  });
});
