/**
 * Free filesystem space end to end: the A/B test image after files were written into root A
 * and boot A and some deleted again (their blocks free but holding stale random bytes) is
 * packed, so the freed space is listed as free in the block map; flashed onto a zram drive full
 * of random bytes, where the writer leaves the free space unwritten (and discards it); then `e2fsck -fn` and
 * `fsck.fat -n` must find every filesystem clean and every file (debugfs rdump, mcopy) must
 * equal the source image's.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage, testImageSize } from '../../build/make-test-image.ts';
import { defaultBlockSize, scanImage, scanImageFitting } from '../../electron/kernel/image/blockMap.ts';
import { findFreeSpace } from '../../electron/kernel/image/freeBlocks/freeSpace.ts';
import { packImage, type PackedImage } from '../../electron/kernel/image/packImage.ts';
import { readPartitionTable } from '../../electron/kernel/image/partitionTable.ts';
import { verifyImage } from '../../electron/kernel/image/verifyImage.ts';
import { writeImageToDrive } from '../../electron/flash/writeImage.ts';
import { generateSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import { bytesToWrite, freeBytes, mappedBytes, type ImagePartition } from '../../shared/image.ts';
import { runCliProcess } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { createZram, fillRandom, type ZramDevice } from '../support/zram.ts';
import { readBytes } from '../support/readBytes.ts';

const run = promisify(execFile);
const mib = 1 << 20;
const dir = makeTempDir('fieldkit-free-flash-');
const at = (name: string): string => path.join(dir.path, name);
const key = generateSecretKey();
let packed: PackedImage;
let mappedBefore: number;
let target: ZramDevice | null = null;

function partition(role: ImagePartition['role']): ImagePartition {
  const p = packed.manifest.layout.partitions.find((q) => q.role === role);
  if (p === undefined) throw new Error(`no ${role} partition`);
  return p;
}


/** Copies one partition of `source` (image or device) into its own file, for the stock tools. */
async function extract(source: string, p: ImagePartition, out: string): Promise<string> {
  await run('dd', [`if=${source}`, `of=${out}`, 'iflag=skip_bytes,count_bytes', `skip=${p.start}`, `count=${p.size}`, 'bs=1M', 'status=none']);
  return out;
}

/** Writes files into the image's ext partition `p` with debugfs (no mount), then deletes some. */
async function churnExt(raw: string, p: { start: number }): Promise<void> {
  const cmds: string[] = [];
  for (const [name, bytes] of [['gone-a.bin', 2_500_000], ['kept.bin', 900_000], ['gone-b.bin', 1_800_000], ['kept-2.bin', 40_000]] as const) {
    writeFileSync(at(name), randomBytes(bytes));
    cmds.push(`write ${at(name)} ${name}`);
  }
  cmds.push('mkdir srv', `write ${at('kept.bin')} srv/copy.bin`, 'rm gone-a.bin', 'rm gone-b.bin', '');
  writeFileSync(at('churn.cmds'), cmds.join('\n'));
  await run('debugfs', ['-w', '-f', at('churn.cmds'), `${raw}?offset=${p.start}`]);
}

async function churnFat(raw: string, p: { start: number }): Promise<void> {
  const image = `${raw}@@${p.start}`;
  for (const [name, bytes] of [['STALE.BIN', 3_000_000], ['firmware blob with a long name.dat', 500_000], ['OLD.TXT', 70_000]] as const) {
    writeFileSync(at(name), randomBytes(bytes));
    await run('mcopy', ['-i', image, at(name), `::${name}`]);
  }
  await run('mdel', ['-i', image, '::STALE.BIN', '::OLD.TXT']);
}

beforeAll(async () => {
  const raw = at('raw.img');
  await makeTestImage(raw);
  const table = await readPartitionTable(raw);
  const byIndex = (i: number): { start: number } => table.partitions.find((p) => p.index === i) ?? { start: -1 };
  await churnExt(raw, byIndex(4));
  await churnFat(raw, byIndex(2));
  mappedBefore = mappedBytes((await scanImage(raw, defaultBlockSize)).blockMap);
  packed = await packImage(raw, at('image.fkimg'), { product: 'demo-os', version: '1.3.0', sequence: 9, boards: ['pi5'], expiresDays: 1, key });
}, 40_000);
afterAll(async () => {
  await target?.remove();
  dir.remove();
});

describe('pack with free filesystem space', () => {
  it('reads every filesystem of the A/B image and maps fewer bytes than the zero scan alone', () => {
    expect(packed.freeSpace.partitions.map((p) => p.filesystem)).toEqual(['fat12', 'fat16', 'fat16', 'ext4', 'ext4', 'ext4']);
    const mappedAfter = mappedBytes(packed.manifest.block_map);
    // The deleted files' 2.5 + 1.8 MB in root A and 3 MB in boot A held random bytes; whole blocks of them drop out.
    expect(mappedBefore - mappedAfter).toBeGreaterThanOrEqual(5 * mib);
    console.log(`mapped bytes: ${mappedBefore} with zero blocks skipped, ${mappedAfter} with free filesystem space too (${packed.freeSpace.freeBytes} bytes free in the filesystems)`);
  });

  it('is a consistent signed image: the payload hashes and every unmapped byte is zero', async () => {
    const verified = await verifyImage(packed.file, { trustedKeys: [publicKeyOf(key)], board: 'pi5' });
    expect(verified.payloadChecked).toBe(true);
  });

  it('keeps the raw image byte for byte when asked (unmapFreeSpace: false)', async () => {
    const whole = await packImage(at('raw.img'), at('whole.fkimg'), { product: 'demo-os', version: '1.3.0', sequence: 9, boards: ['pi5'], expiresDays: 1, key, unmapFreeSpace: false });
    const { stdout } = await run('sha256sum', [at('raw.img')]);
    expect(whole.manifest.payload.raw_sha256).toBe(stdout.split(' ')[0]);
    expect(mappedBytes(whole.manifest.block_map)).toBe(mappedBefore);
  });

  it('image pack says what it left out, and --keep-free-space keeps the raw image byte for byte', async () => {
    expect((await runCliProcess(['keygen', '--out', at('keys')])).code).toBe(0);
    const common = ['--product', 'demo-os', '--image-version', '1.3.0', '--sequence', '9', '--boards', 'pi5', '--key', at('keys/fieldkit.key')];
    const human = await runCliProcess(['image', 'pack', at('raw.img'), '--out', at('cli.fkimg'), ...common]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/free filesystem space stored as zeros, left out of the block map: .* \(1 fat12, 2 fat16, 3 fat16, 4 ext4, 5 ext4, 6 ext4\)/);
    const kept = await runCliProcess(['--json', 'image', 'pack', at('raw.img'), '--out', at('cli-kept.fkimg'), '--keep-free-space', ...common]);
    expect(kept.code).toBe(0);
    const shown = JSON.parse(kept.stdout) as { manifest: { payload: { raw_sha256: string } }; freeSpace: { bytes: number } };
    expect(shown.freeSpace.bytes).toBe(0);
    expect(shown.manifest.payload.raw_sha256).toBe((await run('sha256sum', [at('raw.img')])).stdout.split(' ')[0]);
  });

  it('coarsens the blocks rather than list more ranges than a manifest may hold', async () => {
    const fine = await scanImageFitting(at('raw.img'), packed.freeSpace.ranges, 64 << 10, 1 << 20);
    const capped = await scanImageFitting(at('raw.img'), packed.freeSpace.ranges, 64 << 10, 3);
    expect(fine.blockMap.ranges.length).toBeGreaterThan(3);
    expect(capped.blockMap.ranges.length).toBeLessThanOrEqual(3);
    expect(capped.blockMap.block_size).toBeGreaterThan(64 << 10);
    expect(capped.rawSha256).toBe(packed.manifest.payload.raw_sha256);
  });

  it('reads the MBR variant (type 0c and 83 logicals) the same way', async () => {
    await makeTestImage(at('mbr.img'), 'mbr');
    const free = await findFreeSpace(at('mbr.img'), await readPartitionTable(at('mbr.img')));
    expect(free.partitions.map((p) => `${p.index}:${p.filesystem ?? 'none'}`)).toEqual(['1:fat12', '2:fat16', '3:fat16', '4:none', '5:ext4', '6:ext4', '7:ext4']);
  });
});

describe('flashed onto a drive full of random bytes', () => {
  const freeProbe = { offset: 0, before: '' };
  let result: Awaited<ReturnType<typeof writeImageToDrive>> | null = null;

  beforeAll(async () => {
    target = createZram(testImageSize + 16 * mib);
    fillRandom(target.device, testImageSize + 16 * mib);
    // A block of root A that the block map lists as free: the writer leaves it unwritten (and discards it).
    const rootA = partition('root_a');
    const free = (packed.manifest.block_map.free ?? []).find((r) => r.offset >= rootA.start && r.offset < rootA.start + rootA.size);
    if (free === undefined) throw new Error('no free range in root A');
    freeProbe.offset = free.offset;
    freeProbe.before = createHash('sha256').update(readBytes(target.device, free.offset, 4096)).digest('hex');
    result = await writeImageToDrive({ imagePath: packed.file, device: target.device, trustedKeys: [publicKeyOf(key)] });
    if (result.status !== 'success') throw new Error(result.error.message);
    expect(result.bytesWritten).toBe(bytesToWrite(packed.manifest));
  }, 40_000);

  it('left free space unwritten and discarded it (zram reads discarded space as zeros)', () => {
    if (target === null || result?.status !== 'success') throw new Error('no target');
    expect(result.freeSpace).toEqual({ bytes: freeBytes(packed.manifest.block_map), discarded: true, note: null });
    expect(createHash('sha256').update(readBytes(target.device, freeProbe.offset, 4096)).digest('hex')).not.toBe(freeProbe.before);
    expect(readBytes(target.device, freeProbe.offset, 4096).equals(Buffer.alloc(4096))).toBe(true);
  });

  for (const role of ['root_a', 'root_b', 'data'] as const) {
    it(`${role}: e2fsck -fn is clean and every file equals the source's`, async () => {
      if (target === null) throw new Error('no target');
      const p = partition(role);
      const flashed = await extract(target.device, p, at(`${role}.flashed`));
      const source = await extract(at('raw.img'), p, at(`${role}.source`));
      const fsck = await run('e2fsck', ['-fn', flashed]).catch((error: unknown) => error as { stdout: string; code: number });
      expect('code' in fsck ? `exit ${fsck.code}: ${fsck.stdout}` : 'clean').toBe('clean');
      for (const [from, to] of [[flashed, `${role}-flashed-tree`], [source, `${role}-source-tree`]] as const) {
        await run('mkdir', ['-p', at(to)]);
        await run('debugfs', ['-R', `rdump / ${at(to)}`, from]);
      }
      await run('diff', ['-r', at(`${role}-source-tree`), at(`${role}-flashed-tree`)]);
      if (role === 'root_a') {
        const { stdout } = await run('debugfs', ['-R', 'cat /kept.bin', flashed], { encoding: 'buffer', maxBuffer: 8 * mib });
        expect(stdout.equals(readBytes(at('kept.bin'), 0, 900_000))).toBe(true);
      }
    });
  }

  for (const role of ['bootsel', 'boot_a', 'boot_b'] as const) {
    it(`${role}: fsck.fat -n is clean and every file equals the source's`, async () => {
      if (target === null) throw new Error('no target');
      const p = partition(role);
      const flashed = await extract(target.device, p, at(`${role}.flashed`));
      const source = await extract(at('raw.img'), p, at(`${role}.source`));
      await run('fsck.fat', ['-n', flashed]);
      for (const [from, to] of [[flashed, `${role}-flashed-tree`], [source, `${role}-source-tree`]] as const) {
        await run('mkdir', ['-p', at(to)]);
        await run('mcopy', ['-s', '-n', '-i', from, '::*', at(to)]);
      }
      await run('diff', ['-r', at(`${role}-source-tree`), at(`${role}-flashed-tree`)]);
      if (role === 'boot_a') {
        const { stdout } = await run('mtype', ['-i', flashed, '::firmware blob with a long name.dat'], { encoding: 'buffer', maxBuffer: 8 * mib });
        expect(stdout.equals(readBytes(at('firmware blob with a long name.dat'), 0, 500_000))).toBe(true);
      }
    });
  }
});
