/**
 * The trust store through the app API and the CLI: a key made by the stock `minisign -G -W`
 * is imported, an image packed with it verifies with no --pub, revoking the key makes that
 * image refused by the key's id and reason, the revoked key cannot be imported again, and
 * the unsigned-image policy survives a restart of the services.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage } from '../../build/make-test-image.ts';
import { dispatch } from '../../electron/kernel/api/dispatch.ts';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { packImage } from '../../electron/kernel/image/packImage.ts';
import { checkImageManifestTrusted } from '../../electron/kernel/trust/trustStore.ts';
import { checkImagePayload } from '../../electron/kernel/image/verifyImage.ts';
import { generateSecretKey, readSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { formatPublicKey, parsePublicKey } from '../../electron/kernel/signing/minisignFormat.ts';
import type { MethodName, RequestOf, ResponseOf } from '../../shared/api.ts';
import type { AppError } from '../../shared/errors.ts';
import { isFieldkitError } from '../../shared/errors.ts';
import type { TrustedKey } from '../../shared/trust.ts';
import { runCliProcess } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';

const dir = makeTempDir('fieldkit-trust-');
const at = (name: string): string => path.join(dir.path, name);
const dataDir = at('data');
let services: AppServices;
let stockKeyId = '';

async function call<M extends MethodName>(method: M, params: RequestOf<M>): Promise<ResponseOf<M>> {
  const result = await dispatch(services.handlers, method, params);
  if (!result.ok) throw new Error(`${method} failed: ${result.error.message}`);
  return result.value as ResponseOf<M>;
}

async function failure<M extends MethodName>(method: M, params: RequestOf<M>): Promise<AppError> {
  const result = await dispatch(services.handlers, method, params);
  if (result.ok) throw new Error(`${method} should have failed`);
  return result.error;
}

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (isFieldkitError(error)) return error.appError;
    throw error;
  }
  throw new Error('expected a refusal');
}

async function verifyWithStore(file: string): Promise<void> {
  const { keys } = await call('trust.list', {});
  await checkImagePayload(file, await checkImageManifestTrusted(keys, file));
}

beforeAll(async () => {
  execFileSync('minisign', ['-G', '-W', '-p', at('stock.pub'), '-s', at('stock.key')]);
  // The stock tool prints the id without leading zeros (`%PRIX64`): pad it as we show it.
  stockKeyId = (/minisign public key ([0-9A-F]{1,16})/.exec(readFileSync(at('stock.pub'), 'utf8'))?.[1] ?? '').padStart(16, '0');
  await makeTestImage(at('raw.img'));
  await packImage(at('raw.img'), at('stock.fkimg'), { product: 'demo-os', version: '1.0.0', sequence: 1, boards: ['pi5'], expiresDays: 30, key: await readSecretKey(at('stock.key')) });
  services = await createAppServices({ dataDir, version: 'test' });
}, 40_000);
afterAll(async () => {
  await services.close();
  dir.remove();
});

describe('trust store', () => {
  it('starts empty, and an image is refused saying no key is trusted yet', async () => {
    expect((await call('trust.list', {})).keys).toEqual([]);
    const error = await refusal(verifyWithStore(at('stock.fkimg')));
    expect(error.code).toBe('VERIFICATION_FAILED');
    expect(error.message).toContain('no image key is trusted yet');
    expect(error.hint).toContain('fieldkit trust import');
  });

  it('imports a key made by the stock minisign, lists it, and verifies an image it signed', async () => {
    const { key } = await call('trust.import', { publicKey: readFileSync(at('stock.pub'), 'utf8'), label: 'stock release key' });
    expect(key).toMatchObject({ keyId: stockKeyId, label: 'stock release key', revokedMs: null, revokedReason: null });
    expect((await call('trust.list', {})).keys.map((k: TrustedKey) => k.keyId)).toEqual([stockKeyId]);
    await verifyWithStore(at('stock.fkimg'));
    // Importing the same key again is harmless and keeps the first label.
    expect((await call('trust.import', { publicKey: readFileSync(at('stock.pub'), 'utf8'), label: 'again' })).key.label).toBe('stock release key');
  });

  it('refuses a .pub that is not a public key, and a key the store does not hold', async () => {
    const bad = await failure('trust.import', { publicKey: 'untrusted comment: hello\nnot base64!\n', label: 'junk' });
    expect(bad.code).toBe('BAD_REQUEST');
    // The same key id with other key bytes: a sign of tampering, refused rather than merged.
    const real = parsePublicKey(readFileSync(at('stock.pub'), 'utf8'));
    const forged = formatPublicKey({ keyId: real.keyId, publicKey: Buffer.alloc(32, 7) });
    const clash = await failure('trust.import', { publicKey: forged, label: 'forged' });
    expect(clash.code).toBe('CONFLICT');
    expect(clash.message).toContain(`A different key with the id ${stockKeyId}`);
    const unknown = await failure('trust.revoke', { keyId: '0123456789ABCDEF', reason: 'lost laptop' });
    expect(unknown.code).toBe('NOT_FOUND');
    expect((await failure('trust.revoke', { keyId: 'nothex', reason: 'lost laptop' })).code).toBe('BAD_REQUEST');
  });

  it('`fieldkit image verify` without --pub uses the trust store; another key is refused as untrusted', async () => {
    const ok = await runCliProcess(['--data-dir', dataDir, 'image', 'verify', at('stock.fkimg')]);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toContain(`signed by key ${stockKeyId}`);
    expect(ok.code).toBe(0);
    const other = generateSecretKey();
    await packImage(at('raw.img'), at('other.fkimg'), { product: 'demo-os', version: '1.0.1', sequence: 2, boards: ['pi5'], expiresDays: 30, key: other });
    const refused = await runCliProcess(['--data-dir', dataDir, 'image', 'verify', at('other.fkimg')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('which is not trusted');
    expect(refused.stderr).toContain(stockKeyId);
  }, 30_000);

  it('a revoked key never verifies again, is named with its reason, and cannot be imported again', async () => {
    const { key } = await call('trust.revoke', { keyId: stockKeyId.toLowerCase(), reason: 'secret key leaked' });
    expect(key.revokedReason).toBe('secret key leaked');
    expect(key.revokedMs).not.toBeNull();
    // A second revoke keeps the first reason.
    expect((await call('trust.revoke', { keyId: stockKeyId, reason: 'again' })).key.revokedReason).toBe('secret key leaked');

    const error = await refusal(verifyWithStore(at('stock.fkimg')));
    expect(error.code).toBe('VERIFICATION_FAILED');
    expect(error.message).toContain(`revoked key: key ${stockKeyId} (stock release key)`);
    expect(error.message).toContain('secret key leaked');

    const cli = await runCliProcess(['--data-dir', dataDir, 'image', 'verify', at('stock.fkimg')]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain(`revoked key: key ${stockKeyId}`);

    const again = await failure('trust.import', { publicKey: readFileSync(at('stock.pub'), 'utf8'), label: 'sneaky' });
    expect(again.code).toBe('CONFLICT');
    expect(again.message).toContain('never trusted again');
    expect((await call('trust.list', {})).keys).toEqual([expect.objectContaining({ keyId: stockKeyId, revokedReason: 'secret key leaked' })]);
  }, 30_000);

  it('a key made by fieldkit keygen imports through the CLI and lists beside the revoked one', async () => {
    const keygen = await runCliProcess(['keygen', '--out', at('fk')]);
    expect(keygen.code).toBe(0);
    const imported = await runCliProcess(['--data-dir', dataDir, 'trust', 'import', at('fk/fieldkit.pub'), '--label', 'fieldkit key']);
    expect(imported.stderr).toBe('');
    expect(imported.stdout).toMatch(/Trusted key [0-9A-F]{16} \(fieldkit key\)/);
    const list = await runCliProcess(['--data-dir', dataDir, '--json', 'trust', 'list']);
    const keys = (JSON.parse(list.stdout) as { keys: TrustedKey[] }).keys;
    expect(keys.map((k) => [k.label, k.revokedMs === null])).toEqual([
      ['fieldkit key', true],
      ['stock release key', false],
    ]);
  }, 30_000);

  it('the unsigned-image policy is off by default and persists across a restart', async () => {
    expect((await call('settings.flash.get', {})).settings).toEqual({ allowUnsigned: false });
    expect((await call('settings.flash.set', { allowUnsigned: true })).settings).toEqual({ allowUnsigned: true });
    await services.close();
    services = await createAppServices({ dataDir, version: 'test' });
    expect((await call('settings.flash.get', {})).settings).toEqual({ allowUnsigned: true });
    expect((await call('trust.list', {})).keys).toHaveLength(2);
    await call('settings.flash.set', { allowUnsigned: false });
    await services.close();
    const off = await runCliProcess(['--data-dir', dataDir, 'settings', 'flash']);
    expect(off.stdout).toContain('Unsigned images: refused');
    const on = await runCliProcess(['--data-dir', dataDir, 'settings', 'flash', '--allow-unsigned', 'on']);
    expect(on.stdout).toContain('Unsigned images will be flashed with a warning on every flash');
    services = await createAppServices({ dataDir, version: 'test' });
    expect((await call('settings.flash.get', {})).settings).toEqual({ allowUnsigned: true });
  }, 30_000);
});
