/**
 * flash.inspect through the app services: the signature status of an image signed by a
 * trusted key, an unknown key, a revoked key, and of an edited manifest; an expired image
 * keeps its trusted signature but lists why it cannot be flashed; plain images are
 * "unsigned" with the warning on every flash, and a problem while the policy refuses them.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { makeTestImage, testImageSize } from '../../build/make-test-image.ts';
import { dispatch } from '../../electron/kernel/api/dispatch.ts';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { inspectImage, unsignedWarning } from '../../electron/flash/inspectImage.ts';
import { packImage } from '../../electron/kernel/image/packImage.ts';
import { generateSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import { formatKeyId, formatPublicKey, publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import type { MethodName, RequestOf, ResponseOf } from '../../shared/api.ts';
import type { ImageSummary } from '../../shared/flash.ts';
import { makeTempDir } from '../support/tempDir.ts';

const dir = makeTempDir('fieldkit-flash-inspect-');
const at = (name: string): string => path.join(dir.path, name);
const release = generateSecretKey();
const retired = generateSecretKey();
let services: AppServices;

async function call<M extends MethodName>(method: M, params: RequestOf<M>): Promise<ResponseOf<M>> {
  const result = await dispatch(services.handlers, method, params);
  if (!result.ok) throw new Error(`${method} failed: ${result.error.message}`);
  return result.value as ResponseOf<M>;
}

const inspect = async (file: string): Promise<ImageSummary> => (await call('flash.inspect', { imagePath: at(file) })).image;

beforeAll(async () => {
  await makeTestImage(at('raw.img'));
  const pack = (out: string, key: typeof release, expiresDays = 30) => packImage(at('raw.img'), at(out), { product: 'demo-os', version: '1.2.0', sequence: 7, boards: ['pi4', 'pi5'], expiresDays, key });
  await pack('good.fkimg', release);
  await pack('stranger.fkimg', generateSecretKey());
  await pack('retired.fkimg', retired);
  copyFileSync(at('good.fkimg'), at('edited.fkimg'));
  const bytes = readFileSync(at('edited.fkimg'));
  bytes.write('"version": "9.9.9"', bytes.toString('latin1').indexOf('"version": "1.2.0"'), 'latin1');
  writeFileSync(at('edited.fkimg'), bytes);
  copyFileSync(at('raw.img'), at('plain.img'));
  execFileSync('zstd', ['-q', '-f', at('raw.img'), '-o', at('plain.img.zst')]);
  services = await createAppServices({ dataDir: at('data'), version: 'test', watchDrives: false });
  await call('trust.import', { publicKey: formatPublicKey(publicKeyOf(release)), label: 'demo release key' });
  await call('trust.import', { publicKey: formatPublicKey(publicKeyOf(retired)), label: 'old release key' });
  await call('trust.revoke', { keyId: formatKeyId(retired.keyId), reason: 'laptop stolen' });
}, 40_000);

afterAll(async () => {
  await services.close();
  dir.remove();
});

describe('flash.inspect', () => {
  it('a trusted image: signer from the trust store, sizes, layout, no problems', async () => {
    const image = await inspect('good.fkimg');
    expect(image).toMatchObject({ kind: 'signed', product: 'demo-os', version: '1.2.0', boards: ['pi4', 'pi5'], rawBytes: testImageSize, compression: 'zstd', firstBoot: 'none', problems: [], warnings: [] });
    expect(image.signature).toEqual({ status: 'trusted', keyId: formatKeyId(release.keyId), signer: 'demo release key', revokedReason: null });
    expect(image.mappedBytes).toBeGreaterThan(0);
    expect(image.mappedBytes).toBeLessThan(testImageSize);
    expect(image.layout?.partitions.map((p) => p.role)).toContain('boot_a');
  });

  it('an unknown key, a revoked key and an edited manifest each say so, with the reason as a problem', async () => {
    const stranger = await inspect('stranger.fkimg');
    expect(stranger.signature.status).toBe('untrusted');
    expect(stranger.signature.signer).toBeNull();
    expect(stranger.problems[0]?.message).toMatch(/not trusted/);

    const revoked = await inspect('retired.fkimg');
    expect(revoked.signature).toMatchObject({ status: 'revoked', signer: 'old release key', revokedReason: 'laptop stolen' });
    expect(revoked.problems[0]?.message).toContain('revoked');

    const edited = await inspect('edited.fkimg');
    expect(edited.signature.status).toBe('invalid');
    expect(edited.version).toBe('9.9.9');
    expect(edited.problems[0]?.code).toBe('VERIFICATION_FAILED');
  });

  it('an expired image keeps its trusted signature and lists the expiry', async () => {
    const later = new Date(Date.now() + 40 * 86_400_000);
    // The handler reads the laptop clock; the module takes one, so the future can be asked about.
    const db = openStore(at('data'));
    const image = await inspectImage(db, at('good.fkimg'), later).finally(() => {
      db.close();
    });
    expect(image.signature.status).toBe('trusted');
    expect(image.problems.map((p) => p.message).join(' ')).toMatch(/expired at .*the laptop clock says/);
  });

  it('plain images are unsigned, always warned about, and refused while the policy says so', async () => {
    const refused = await inspect('plain.img');
    expect(refused).toMatchObject({ kind: 'plain', compression: 'none', rawBytes: testImageSize, warnings: [unsignedWarning] });
    expect(refused.signature.status).toBe('unsigned');
    expect(refused.problems.map((p) => p.code)).toEqual(['PERMISSION_DENIED']);
    await call('settings.flash.set', { allowUnsigned: true });
    const allowed = await inspect('plain.img.zst');
    expect(allowed).toMatchObject({ kind: 'plain', compression: 'zstd', rawBytes: testImageSize, problems: [], warnings: [unsignedWarning] });
  });

  it('a file that is no image is refused by name', async () => {
    writeFileSync(at('notes.txt'), 'hello');
    const result = await dispatch(services.handlers, 'flash.inspect', { imagePath: at('notes.txt') });
    expect(result.ok ? null : result.error.code).toBe('BAD_REQUEST');
    const missing = await dispatch(services.handlers, 'flash.inspect', { imagePath: at('gone.fkimg') });
    expect(missing.ok ? null : missing.error.code).toBe('NOT_FOUND');
  });

  it('a folder is called a folder, whatever its name, and says how to pick the image inside', async () => {
    mkdirSync(at('images'), { recursive: true });
    mkdirSync(at('releases.fkimg'), { recursive: true });
    for (const folder of ['images', 'releases.fkimg']) {
      const result = await dispatch(services.handlers, 'flash.inspect', { imagePath: at(folder) });
      expect(result).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'imagePath', message: `${at(folder)} is a folder, not an image file.` } });
      if (!result.ok) expect(result.error.hint).toContain('Browse…');
    }
    const start = await dispatch(services.handlers, 'flash.start', { imagePath: at('images'), targets: [{ device: '/dev/null', expectSizeBytes: 1 }], acceptUnsigned: false, eject: false });
    expect(start).toMatchObject({ ok: false, error: { message: `${at('images')} is a folder, not an image file.` } });
  });

  it('expands ~ to the home folder, as a shell would', async () => {
    const home = process.env.HOME;
    process.env.HOME = dir.path;
    onTestFinished(() => {
      process.env.HOME = home;
    });
    const image = (await call('flash.inspect', { imagePath: '~/good.fkimg' })).image;
    expect(image.path).toBe(at('good.fkimg'));
    expect(image.problems).toEqual([]);
    const listing = await call('flash.browse', { dir: '~' });
    expect(listing.dir).toBe(dir.path);
  });
});
