/**
 * Every way a fieldkit image can be bad is refused before anything would be written, each
 * with its own reason: a flipped payload byte (found while streaming, after the manifest
 * checks pass), an edited manifest, a truncated file, an expired image, a key not trusted,
 * a board not listed.
 */
import { copyFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage } from '../../build/make-test-image.ts';
import { packImage } from '../../electron/kernel/image/packImage.ts';
import { checkImageManifest, verifyImage } from '../../electron/kernel/image/verifyImage.ts';
import { generateSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import { listUstar } from '../../electron/kernel/signing/ustarArchive.ts';
import { isFieldkitError } from '../../shared/errors.ts';
import { makeTempDir } from '../support/tempDir.ts';

const dir = makeTempDir('fieldkit-image-refusals-');
const at = (name: string): string => path.join(dir.path, name);
const key = generateSecretKey();
const trusted = [publicKeyOf(key)];
const good = (): string => at('good.fkimg');

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string; hint: string }> {
  try {
    await promise;
  } catch (error) {
    if (isFieldkitError(error)) return error.appError;
    throw error;
  }
  throw new Error('expected a refusal');
}

function copyOfGood(name: string): string {
  copyFileSync(good(), at(name));
  return at(name);
}

beforeAll(async () => {
  await makeTestImage(at('raw.img'));
  await packImage(at('raw.img'), good(), { product: 'demo-os', version: '1.2.0', sequence: 7, boards: ['pi4', 'pi5'], expiresDays: 30, key });
  // The same image, issued 40 days ago for 30 days.
  await packImage(at('raw.img'), at('expired.fkimg'), { product: 'demo-os', version: '1.1.0', sequence: 6, boards: ['pi5'], expiresDays: 30, key, now: new Date(Date.now() - 40 * 86_400_000) });
}, 30_000);
afterAll(() => {
  dir.remove();
});

describe('image verification refuses', () => {
  it('accepts the untouched image (the baseline)', async () => {
    expect((await verifyImage(good(), { trustedKeys: trusted, board: 'pi4' })).payloadChecked).toBe(true);
  });

  it('a flipped payload byte, found while streaming after the manifest checks passed', async () => {
    const file = copyOfGood('flipped.fkimg');
    const payload = (await listUstar(file)).find((m) => m.path === 'image.img.zst');
    if (payload === undefined) throw new Error('no payload member');
    const bytes = readFileSync(file);
    const where = payload.offset + Math.floor(payload.size / 2);
    bytes[where] = (bytes[where] ?? 0) ^ 0x40;
    writeFileSync(file, bytes);
    await expect(checkImageManifest(file, { trustedKeys: trusted })).resolves.toMatchObject({ payloadChecked: false });
    const error = await refusal(verifyImage(file, { trustedKeys: trusted }));
    expect(error.code).toBe('VERIFICATION_FAILED');
    expect(error.message).toMatch(/disk image (was altered|does not decompress.*differ from the signed SHA-256)/);
  });

  it('an edited manifest', async () => {
    const file = copyOfGood('edited.fkimg');
    const bytes = readFileSync(file);
    const text = bytes.toString('latin1');
    const where = text.indexOf('"version": "1.2.0"');
    expect(where).toBeGreaterThan(0);
    bytes.write('"version": "9.9.9"', where, 'latin1');
    // Keep the tar header checksum valid: only the signature may catch this.
    writeFileSync(file, bytes);
    const error = await refusal(verifyImage(file, { trustedKeys: trusted }));
    expect(error.code).toBe('VERIFICATION_FAILED');
    expect(error.message).toMatch(/manifest\.json does not match its signature/);
  });

  it('a truncated file', async () => {
    const file = copyOfGood('truncated.fkimg');
    truncateSync(file, Math.floor(readFileSync(file).length * 0.6));
    const error = await refusal(verifyImage(file, { trustedKeys: trusted }));
    expect(error.code).toBe('VERIFICATION_FAILED');
    expect(error.message).toMatch(/^The image file truncated\.fkimg is truncated \(at least \d+ bytes missing at the end\) — copy it again\.$/);
  });

  it('an expired image, naming when it expired and the laptop clock', async () => {
    const error = await refusal(verifyImage(at('expired.fkimg'), { trustedKeys: trusted }));
    expect(error.code).toBe('VERIFICATION_FAILED');
    expect(error.message).toMatch(/demo-os 1\.1\.0\) expired at .*the laptop clock says/);
    expect(error.hint).toMatch(/clock/);
  });

  it('a key that is not trusted, naming the key that signed it', async () => {
    const stranger = publicKeyOf(generateSecretKey());
    const error = await refusal(verifyImage(good(), { trustedKeys: [stranger] }));
    expect(error.code).toBe('VERIFICATION_FAILED');
    expect(error.message).toMatch(/is signed by key [0-9A-F]{16}, which is not trusted \(trusted: [0-9A-F]{16}\)/);
    expect((await refusal(verifyImage(good(), { trustedKeys: [] }))).message).toMatch(/not trusted \(no key given\)/);
  });

  it('a board the image does not list', async () => {
    const error = await refusal(verifyImage(good(), { trustedKeys: trusted, board: 'cm5' }));
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.message).toMatch(/is not made for cm5; it lists pi4, pi5/);
  });

  it('a raw disk image given where a fieldkit image belongs', async () => {
    const error = await refusal(verifyImage(at('raw.img'), { trustedKeys: trusted }));
    expect(error.code).toBe('VERIFICATION_FAILED');
    expect(error.message).toMatch(/raw\.img is not a well-formed image file: the header at byte 0 is damaged/);
  });
});

describe('image pack refuses', () => {
  it('a raw image cut short of its partition table', async () => {
    copyFileSync(at('raw.img'), at('short.img'));
    truncateSync(at('short.img'), 40 << 20);
    const error = await refusal(packImage(at('short.img'), at('short.fkimg'), { product: 'demo-os', version: '1', sequence: 1, boards: ['pi5'], expiresDays: 1, key }));
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.message).toMatch(/short\.img's partition 4 ends at byte \d+, past the end of the 41943040-byte image/);
  });
});

describe('other payload compressions', () => {
  for (const compression of ['gz', 'none'] as const) {
    it(`${compression}: verifies, and a flipped payload byte is still caught`, async () => {
      const file = at(`${compression}.fkimg`);
      const packed = await packImage(at('raw.img'), file, { product: 'demo-os', version: '1.2.0', sequence: 7, boards: ['pi5'], expiresDays: 1, key, compression });
      expect(packed.manifest.payload.compression).toBe(compression);
      expect((await listUstar(file)).map((m) => m.path)).toContain(compression === 'gz' ? 'image.img.gz' : 'image.img');
      expect((await verifyImage(file, { trustedKeys: trusted })).payloadChecked).toBe(true);
      const payload = (await listUstar(file)).at(-1);
      if (payload === undefined) throw new Error('no payload member');
      const bytes = readFileSync(file);
      // For the raw payload, a byte inside the first mapped range (the partition table).
      const where = payload.offset + (compression === 'none' ? 1 << 20 : Math.floor(payload.size / 2));
      bytes[where] = (bytes[where] ?? 0) ^ 0x01;
      writeFileSync(file, bytes);
      const error = await refusal(verifyImage(file, { trustedKeys: trusted }));
      expect(error.code).toBe('VERIFICATION_FAILED');
      expect(error.message).toMatch(/disk image (was altered|does not decompress)/);
    });
  }
});
