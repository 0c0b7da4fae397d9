/**
 * A signed image flashed onto a used card is the image (issue 12, items 1 and 2): a zram drive
 * full of random bytes is flashed with the A/B test image, whose boot and root partitions hold
 * a multi-MiB file of zeros in allocated blocks; every file of every partition must then equal
 * the image's (mtools, debugfs), the filesystems must be clean (fsck.fat -n, e2fsck -fn), and
 * with `writeAll` the whole drive must equal the raw image. A tampered payload is refused by
 * the pre-check before the drive is opened: the drive keeps every byte it had.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage, testImageSize, zeroFileBytes } from '../../build/make-test-image.ts';
import { packImage, type PackedImage } from '../../electron/kernel/image/packImage.ts';
import { writeImageToDrive, type WriteProgress } from '../../electron/flash/writeImage.ts';
import { planWrites } from '../../electron/flash/writePlan.ts';
import { generateSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import { listUstar } from '../../electron/kernel/signing/ustarArchive.ts';
import { isFieldkitError } from '../../shared/errors.ts';
import { bytesToWrite, freeBytes, type ImagePartition } from '../../shared/image.ts';
import { readBytes } from '../support/readBytes.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { createZram, fillRandom, type ZramDevice } from '../support/zram.ts';

const run = promisify(execFile);
const mib = 1 << 20;
const driveBytes = testImageSize + 16 * mib;
const dir = makeTempDir('fieldkit-used-card-');
const at = (name: string): string => path.join(dir.path, name);
const key = generateSecretKey();
const trustedKeys = [publicKeyOf(key)];
const devices: ZramDevice[] = [];
let packed: PackedImage;

function usedCard(): ZramDevice {
  const device = createZram(driveBytes);
  devices.push(device);
  fillRandom(device.device, driveBytes);
  return device;
}

function partition(role: ImagePartition['role']): ImagePartition {
  const p = packed.manifest.layout.partitions.find((q) => q.role === role);
  if (p === undefined) throw new Error(`no ${role} partition`);
  return p;
}

/** One partition of `source` (image or device) in its own file, for the stock tools. */
async function extract(source: string, p: ImagePartition, out: string): Promise<string> {
  await run('dd', [`if=${source}`, `of=${out}`, 'iflag=skip_bytes,count_bytes', `skip=${p.start}`, `count=${p.size}`, 'bs=1M', 'status=none']);
  return out;
}

async function sha256Of(file: string, bytes: number): Promise<string> {
  const { stdout } = await run('sh', ['-c', 'head -c "$2" "$1" | sha256sum', 'sh', file, String(bytes)]);
  return stdout.split(' ')[0] ?? '';
}

/** Every file of each partition of `device` equals the raw image's, and each filesystem is clean. */
async function expectEveryFileEqual(device: string, tag: string): Promise<void> {
  for (const role of ['bootsel', 'boot_a', 'boot_b'] as const) {
    const p = partition(role);
    const flashed = await extract(device, p, at(`${tag}-${role}.flashed`));
    const source = await extract(at('raw.img'), p, at(`${tag}-${role}.source`));
    await run('fsck.fat', ['-n', flashed]);
    for (const [from, to] of [[flashed, `${tag}-${role}-flashed`], [source, `${tag}-${role}-source`]] as const) {
      await run('mkdir', ['-p', at(to)]);
      await run('mcopy', ['-s', '-n', '-i', from, '::*', at(to)]);
    }
    await run('diff', ['-r', at(`${tag}-${role}-source`), at(`${tag}-${role}-flashed`)]);
    if (role !== 'bootsel') {
      const { stdout } = await run('mtype', ['-i', flashed, '::zeros.bin'], { encoding: 'buffer', maxBuffer: 8 * mib });
      expect(stdout.length).toBe(zeroFileBytes.fat);
      expect(stdout.every((b) => b === 0), `${role} zeros.bin reads back as zeros`).toBe(true);
    }
  }
  for (const role of ['root_a', 'root_b', 'data'] as const) {
    const p = partition(role);
    const flashed = await extract(device, p, at(`${tag}-${role}.flashed`));
    const source = await extract(at('raw.img'), p, at(`${tag}-${role}.source`));
    const fsck = await run('e2fsck', ['-fn', flashed]).catch((error: unknown) => error as { stdout: string; code: number });
    expect('code' in fsck ? `exit ${fsck.code}: ${fsck.stdout}` : 'clean').toBe('clean');
    for (const [from, to] of [[flashed, `${tag}-${role}-flashed`], [source, `${tag}-${role}-source`]] as const) {
      await run('mkdir', ['-p', at(to)]);
      await run('debugfs', ['-R', `rdump / ${at(to)}`, from]);
    }
    await run('diff', ['-r', at(`${tag}-${role}-source`), at(`${tag}-${role}-flashed`)]);
    if (role !== 'data') {
      const { stdout } = await run('debugfs', ['-R', 'cat /zeros.bin', flashed], { encoding: 'buffer', maxBuffer: 8 * mib });
      expect(stdout.length).toBe(zeroFileBytes.ext4);
      expect(stdout.every((b) => b === 0), `${role} zeros.bin reads back as zeros`).toBe(true);
    }
  }
}

beforeAll(async () => {
  await makeTestImage(at('raw.img'));
  packed = await packImage(at('raw.img'), at('image.fkimg'), { product: 'demo-os', version: '2.0.0', sequence: 3, boards: ['pi5'], expiresDays: 1, key });
}, 40_000);
afterAll(async () => {
  for (const device of devices) await device.remove();
  dir.remove();
});

describe('a signed image flashed onto a used card', () => {
  it('lists free filesystem space apart from the zeros a flash must write', () => {
    const map = packed.manifest.block_map;
    expect(packed.manifest.manifest_version).toBe(2);
    expect(freeBytes(map)).toBeGreaterThan(20 * mib);
    // The files of zeros are allocated: their blocks are neither data nor free, but zeros to write and read back.
    const zerosIn = (p: ImagePartition): number =>
      planWrites(packed.manifest).readBack.filter((r) => r.sha256 === null && r.offset >= p.start && r.offset + r.length <= p.start + p.size).reduce((sum, r) => sum + r.length, 0);
    expect(zerosIn(partition('boot_a'))).toBeGreaterThanOrEqual(zeroFileBytes.fat - 2 * map.block_size);
    expect(zerosIn(partition('root_a'))).toBeGreaterThanOrEqual(zeroFileBytes.ext4 - 2 * map.block_size);
    expect(bytesToWrite(packed.manifest)).toBe(packed.manifest.payload.raw_size - freeBytes(map));
  });

  it('every file of every partition equals the image (zero files included), fsck clean; free space is discarded, not written', async () => {
    const card = usedCard();
    const result = await writeImageToDrive({ imagePath: packed.file, device: card.device, trustedKeys });
    if (result.status !== 'success') throw new Error(result.error.message);
    expect(result.bytesWritten).toBe(bytesToWrite(packed.manifest));
    expect(result.bytesVerified).toBe(bytesToWrite(packed.manifest));
    expect(result.freeSpace).toEqual({ bytes: freeBytes(packed.manifest.block_map), discarded: true, note: null });
    await expectEveryFileEqual(card.device, 'sparse');
  }, 60_000);

  it('with writeAll the drive equals the raw image byte for byte', async () => {
    const card = usedCard();
    const result = await writeImageToDrive({ imagePath: packed.file, device: card.device, trustedKeys, writeAll: true });
    if (result.status !== 'success') throw new Error(result.error.message);
    expect(result.bytesWritten).toBe(testImageSize);
    expect(result.freeSpace).toEqual({ bytes: 0, discarded: false, note: null });
    expect(await sha256Of(card.device, testImageSize)).toBe(await sha256Of(at('raw.img'), testImageSize));
    expect(packed.manifest.payload.raw_sha256).toBe(await sha256Of(at('raw.img'), testImageSize));
    await expectEveryFileEqual(card.device, 'all');
  }, 60_000);
});

describe('a tampered payload', () => {
  it.each([['zstd'], ['none']] as const)('(%s) is refused before the drive is opened: the drive keeps every byte, the error says the image was altered', async (compression) => {
    const file = at(`tampered-${compression}.fkimg`);
    if (compression === 'zstd') copyFileSync(packed.file, file);
    else await packImage(at('raw.img'), file, { product: 'demo-os', version: '2.0.0', sequence: 3, boards: ['pi5'], expiresDays: 1, key, compression: 'none' });
    const payload = (await listUstar(file)).find((m) => m.path.startsWith('image.img'));
    if (payload === undefined) throw new Error('no payload member');
    const bytes = readFileSync(file);
    const where = payload.offset + Math.floor(payload.size / 2);
    bytes[where] = (bytes[where] ?? 0) ^ 0x40;
    writeFileSync(file, bytes);

    const card = usedCard();
    const before = await sha256Of(card.device, driveBytes);
    const phases = new Set<WriteProgress['phase']>();
    const error = await writeImageToDrive({ imagePath: file, device: card.device, trustedKeys, onProgress: (p) => phases.add(p.phase) }).then(
      (result) => new Error(`not refused: ${result.status}`),
      (thrown: unknown) => thrown,
    );
    expect(isFieldkitError(error) ? error.appError.code : String(error)).toBe('VERIFICATION_FAILED');
    expect(isFieldkitError(error) ? error.appError.message : '').toMatch(/was altered: .*Nothing was written/);
    expect([...phases]).toEqual(['checking']);
    expect(await sha256Of(card.device, driveBytes)).toBe(before);
    // And a byte at the very start of the drive, which a failed flash would have zeroed.
    expect(readBytes(card.device, 0, 4096).some((b) => b !== 0)).toBe(true);
  }, 60_000);
});
