/**
 * Sparse zstd payloads in frames: each long unmapped gap packed as a zstd frame of its own,
 * listed in the signed manifest, so the writer passes it by undecoded. The stock zstd tool
 * still decodes the payload whole; a manifest whose zero frame covers mapped data is refused.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage } from '../../build/make-test-image.ts';
import { packImage } from '../../electron/kernel/image/packImage.ts';
import { verifyImage } from '../../electron/kernel/image/verifyImage.ts';
import { writeImageToDrive } from '../../electron/flash/writeImage.ts';
import { planWrites } from '../../electron/flash/writePlan.ts';
import { storedFrames } from '../../electron/kernel/image/zeroFrames.ts';
import { defaultTrustedComment, generateSecretKey, signBytes } from '../../electron/kernel/signing/minisign.ts';
import { formatSignature, publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import { listUstar, writeUstar } from '../../electron/kernel/signing/ustarArchive.ts';
import { bytesToWrite, imageManifestName, imageSignatureName, type ImageManifest } from '../../shared/image.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { createZram, removeZrams, type ZramDevice } from '../support/zram.ts';

const dir = makeTempDir('fieldkit-zero-frames-');
const at = (name: string): string => path.join(dir.path, name);
const key = generateSecretKey();
const trusted = [publicKeyOf(key)];
const zrams: ZramDevice[] = [];
let manifest: ImageManifest;

beforeAll(async () => {
  await makeTestImage(at('raw.img'));
  ({ manifest } = await packImage(at('raw.img'), at('good.fkimg'), { product: 'demo-os', version: '1.2.0', sequence: 7, boards: ['pi4'], expiresDays: 30, key }));
  execFileSync('tar', ['-xf', at('good.fkimg'), '-C', dir.path, 'image.img.zst']);
}, 60_000);
afterAll(async () => {
  await removeZrams(zrams);
  dir.remove();
});

describe('zero frames', () => {
  it('packs each long unmapped gap as a frame of its own, and the stock zstd decodes the payload whole', () => {
    const zero = manifest.payload.zero_frames ?? [];
    expect(zero.length).toBeGreaterThan(0);
    for (const frame of zero) {
      expect(frame.raw_length).toBeGreaterThanOrEqual(4 << 20);
      expect(manifest.block_map.ranges.some((r) => r.offset < frame.raw_offset + frame.raw_length && frame.raw_offset < r.offset + r.length)).toBe(false);
    }
    const listed = execFileSync('zstd', ['-lv', at('image.img.zst')], { encoding: 'utf8' });
    expect(Number(/# Zstandard Frames: (\d+)/.exec(listed)?.[1])).toBe(storedFrames(manifest.payload).length);
    const sha = execFileSync('sh', ['-c', 'zstd -dc "$1" | sha256sum', 'sh', at('image.img.zst')], { encoding: 'utf8' }).split(' ')[0];
    expect(sha).toBe(manifest.payload.raw_sha256);
  });

  it('verifies every frame (image verify decodes the zero frames too)', async () => {
    expect((await verifyImage(at('good.fkimg'), { trustedKeys: trusted, board: 'pi4' })).payloadChecked).toBe(true);
  });

  it('flashes without decoding the zero frames: all but the free space written (zeros filled in) and read back', async () => {
    const target = createZram(128 << 20);
    zrams.push(target);
    const result = await writeImageToDrive({ imagePath: at('good.fkimg'), device: target.device, trustedKeys: trusted });
    expect(result.status).toBe('success');
    if (result.status !== 'success') return;
    expect(result.bytesWritten).toBe(bytesToWrite(manifest));
    expect(result.bytesVerified).toBe(bytesToWrite(manifest));
    for (const range of planWrites(manifest).write) execFileSync('cmp', ['-n', String(range.length), '-i', `${range.offset}:${range.offset}`, at('raw.img'), target.device]);
  });

  it('refuses a byte flipped inside a zero frame, though that frame is never decoded: the stored SHA-256 covers it, before and while writing', async () => {
    const [first] = manifest.payload.zero_frames ?? [];
    if (first === undefined) throw new Error('no zero frame');
    const member = (await listUstar(at('good.fkimg'))).find((m) => m.path === 'image.img.zst');
    if (member === undefined) throw new Error('no payload member');
    copyFileSync(at('good.fkimg'), at('flipped.fkimg'));
    const fd = openSync(at('flipped.fkimg'), 'r+');
    const where = member.offset + first.stored_offset + Math.floor(first.stored_length / 2);
    const flip = (): void => {
      const byte = Buffer.alloc(1);
      readSync(fd, byte, 0, 1, where);
      writeSync(fd, Buffer.from([(byte[0] ?? 0) ^ 0xff]), 0, 1, where);
    };
    flip();
    const target = createZram(128 << 20);
    zrams.push(target);
    // Before the drive is opened: the pre-check.
    await expect(writeImageToDrive({ imagePath: at('flipped.fkimg'), device: target.device, trustedKeys: trusted })).rejects.toThrow(/flipped\.fkimg's disk image was altered: its SHA-256 is .*Nothing was written/);
    // Flipped back for the pre-check and again right after it (the file changed mid-flash): the streaming stored hash.
    flip();
    const result = await writeImageToDrive({
      imagePath: at('flipped.fkimg'),
      device: target.device,
      trustedKeys: trusted,
      onProgress: (p) => {
        if (p.phase === 'checking' && p.bytesDone === p.bytesTotal) flip();
      },
    });
    closeSync(fd);
    expect(result.status).toBe('incomplete');
    if (result.status !== 'incomplete') return;
    expect(result.error.code).toBe('VERIFICATION_FAILED');
    expect(result.error.message).toMatch(/flipped\.fkimg's disk image was altered: its SHA-256 is/);
  });

  it('refuses a signed manifest whose zero frame covers mapped data, and marks the drive incomplete', async () => {
    const [first] = manifest.payload.zero_frames ?? [];
    if (first === undefined) throw new Error('no zero frame');
    const range = manifest.block_map.ranges.find((r) => r.offset >= first.raw_offset + first.raw_length);
    if (range === undefined) throw new Error('no range after the first zero frame');
    // Same stored frame, but its raw span moved onto the next mapped range.
    const bad: ImageManifest = { ...manifest, payload: { ...manifest.payload, zero_frames: [{ ...first, raw_offset: range.offset }] } };
    const bytes = Buffer.from(JSON.stringify(bad, null, 2) + '\n');
    const signature = signBytes(key, bytes, { trustedComment: defaultTrustedComment(imageManifestName, 'ED', new Date()) });
    writeFileSync(at('bad-manifest.json'), bytes);
    await writeUstar(
      at('bad.fkimg'),
      [
        { path: imageManifestName, mode: 0o644, source: { kind: 'bytes', bytes } },
        { path: imageSignatureName, mode: 0o644, source: { kind: 'bytes', bytes: Buffer.from(formatSignature(signature)) } },
        { path: 'image.img.zst', mode: 0o644, source: { kind: 'file', path: at('image.img.zst'), size: manifest.payload.compressed_size } },
      ],
      1_700_000_000,
    );
    const target = createZram(128 << 20);
    zrams.push(target);
    const result = await writeImageToDrive({ imagePath: at('bad.fkimg'), device: target.device, trustedKeys: trusted });
    expect(result.status).toBe('incomplete');
    if (result.status !== 'incomplete') return;
    expect(result.error.code).toBe('VERIFICATION_FAILED');
    expect(result.error.message).toMatch(/bad\.fkimg/);
  });
});
