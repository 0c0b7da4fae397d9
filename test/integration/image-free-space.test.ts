/**
 * Free filesystem space as `image pack` reads it, held against the stock tools: every ext
 * variant's free blocks against `dumpe2fs` (group by group, BLOCK_UNINIT groups included),
 * every FAT's free bytes against `mdir`; and the conservative refusals — a journal to
 * replay, an unclean or erroring filesystem, counts that disagree with a bitmap, bigalloc,
 * meta_bg, FAT copies that disagree — each keeping the space it cannot vouch for.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { ByteRange, FreeSpaceResult, ReadAt } from '../../electron/kernel/image/freeBlocks/byteRanges.ts';
import { extFreeRanges } from '../../electron/kernel/image/freeBlocks/extFreeBlocks.ts';
import { fatFreeRanges, fatGeometry } from '../../electron/kernel/image/freeBlocks/fatFreeClusters.ts';
import { makeTempDir } from '../support/tempDir.ts';

const run = promisify(execFile);
const dir = makeTempDir('fieldkit-free-space-');
const at = (name: string): string => path.join(dir.path, name);
const mib = 1 << 20;
afterAll(() => {
  dir.remove();
});

function readerOf(bytes: Buffer): ReadAt {
  return (offset, length) => Promise.resolve(Buffer.from(bytes.subarray(offset, offset + length)));
}

/** `dumpe2fs`'s per-group "Free blocks:" lines as one list of block ranges. */
async function dumpe2fsFree(file: string): Promise<{ blockSize: number; ranges: [number, number][]; text: string }> {
  const { stdout } = await run('dumpe2fs', [file], { maxBuffer: 64 * mib });
  const blockSize = Number(/^Block size:\s+(\d+)$/m.exec(stdout)?.[1]);
  const ranges: [number, number][] = [];
  for (const m of stdout.matchAll(/^ {2}Free blocks: (.*)$/gm)) {
    for (const part of (m[1] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')) {
      const [a, b] = part.split('-').map(Number);
      if (a === undefined) continue;
      const last = ranges.at(-1);
      const end = (b ?? a) + 1;
      if (last !== undefined && last[1] === a) last[1] = end;
      else ranges.push([a, end]);
    }
  }
  return { blockSize, ranges, text: stdout };
}

function asBlocks(ranges: readonly ByteRange[], blockSize: number): [number, number][] {
  return ranges.map((r) => [r.offset / blockSize, (r.offset + r.length) / blockSize]);
}

/** A filesystem file holding a few files, two of them deleted again so their blocks are free but hold stale random bytes. */
async function makeExt(name: string, sizeMiB: number, mkfsArgs: string[]): Promise<string> {
  const file = at(`${name}.fs`);
  const tree = at(`${name}-tree`);
  await run('mkdir', ['-p', `${tree}/etc`]);
  writeFileSync(`${tree}/etc/hostname`, `${name}\n`);
  writeFileSync(`${tree}/kept.bin`, randomBytes(300_000));
  await run('truncate', ['-s', `${sizeMiB}M`, file]);
  await run('mkfs.ext4', ['-q', '-F', ...mkfsArgs, '-d', tree, file]);
  for (const [n, bytes] of [['gone1', 1_500_000], ['stays', 700_000], ['gone2', 900_000]] as const) writeFileSync(at(`${name}-${n}`), randomBytes(bytes));
  writeFileSync(at(`${name}.cmds`), [`write ${at(`${name}-gone1`)} gone1`, `write ${at(`${name}-stays`)} stays`, `write ${at(`${name}-gone2`)} gone2`, 'rm gone1', 'rm gone2', ''].join('\n'));
  await run('debugfs', ['-w', '-f', at(`${name}.cmds`), file]);
  return file;
}

async function ours(file: string): Promise<FreeSpaceResult> {
  const bytes = readFileSync(file);
  return extFreeRanges(readerOf(bytes), 0, bytes.length);
}

describe('ext free blocks agree with dumpe2fs', () => {
  const variants: [string, number, string[]][] = [
    ['ext2', 16, ['-t', 'ext2']],
    ['ext3', 16, ['-t', 'ext3']],
    ['ext4-1k-default', 16, []],
    ['ext4-4k-uninit-groups', 1024, ['-b', '4096']],
    ['ext4-no-flexbg-32bit', 24, ['-O', '^flex_bg,^64bit']],
    ['ext4-gdt-csum', 400, ['-b', '4096', '-O', '^metadata_csum,uninit_bg']],
    ['ext4-sparse-super2', 400, ['-b', '4096', '-O', 'sparse_super2']],
    ['ext4-no-sparse-super', 24, ['-O', '^sparse_super,^resize_inode']],
  ];
  for (const [name, size, args] of variants) {
    it(name, async () => {
      const file = await makeExt(name, size, args);
      const result = await ours(file);
      if (result.filesystem === null) throw new Error(result.reason);
      const oracle = await dumpe2fsFree(file);
      expect(asBlocks(result.ranges, oracle.blockSize)).toEqual(oracle.ranges);
      // Groups without a bitmap on disk yet are computed, as the kernel does.
      if (name.includes('uninit')) expect((oracle.text.match(/BLOCK_UNINIT/g) ?? []).length).toBeGreaterThan(2);
      expect(result.freeBytes).toBeGreaterThan(size * mib * 0.3);
    });
  }
});

describe('ext: what it cannot vouch for stays mapped', () => {
  it('bigalloc and meta_bg are not read', async () => {
    const bigalloc = await ours(await makeExt('bigalloc', 64, ['-b', '4096', '-O', 'bigalloc', '-C', '16384']));
    expect(bigalloc).toMatchObject({ filesystem: null, reason: expect.stringMatching(/bigalloc/) as unknown });
    const metaBg = await ours(await makeExt('metabg', 16, ['-O', 'meta_bg,^resize_inode']));
    expect(metaBg).toMatchObject({ filesystem: null, reason: expect.stringMatching(/incompatible features 0x10 /) as unknown });
  });

  it('a journal to replay, an unclean or erroring state, or a bitmap that disagrees with its count', async () => {
    const file = await makeExt('tamper', 16, []);
    const clean = readFileSync(file);
    const tampered = async (edit: (b: Buffer) => void): Promise<FreeSpaceResult> => {
      const copy = Buffer.from(clean);
      edit(copy);
      return extFreeRanges(readerOf(copy), 0, copy.length);
    };
    expect((await tampered(() => undefined)).filesystem).toBe('ext4');
    const recover = await tampered((b) => b.writeUInt32LE(b.readUInt32LE(1024 + 0x60) | 0x4, 1024 + 0x60));
    expect(recover).toMatchObject({ filesystem: null, reason: expect.stringMatching(/incompatible features 0x4 /) as unknown });
    expect(await tampered((b) => b.writeUInt16LE(0, 1024 + 0x3a))).toMatchObject({ filesystem: null, reason: expect.stringMatching(/not cleanly unmounted/) as unknown });
    expect(await tampered((b) => b.writeUInt16LE(3, 1024 + 0x3a))).toMatchObject({ filesystem: null, reason: expect.stringMatching(/has errors/) as unknown });
    // Group 0's block bitmap: mark one more block used than its descriptor counts.
    const bitmapBlock = clean.readUInt32LE(2048);
    const bitmapAt = bitmapBlock * 1024;
    const byte = clean.subarray(bitmapAt, bitmapAt + 1024).findIndex((v) => v !== 0xff);
    const miscounted = await tampered((b) => {
      b[bitmapAt + byte] = 0xff;
    });
    expect(miscounted).toMatchObject({ filesystem: null, reason: expect.stringMatching(/group 0 counts \d+ free blocks but its bitmap has/) as unknown });
    expect(await tampered((b) => b.writeUInt32LE(0x1234, 1024 + 0x38 - 2))).toMatchObject({ filesystem: null, reason: 'no ext superblock' });
  });

  it('a filesystem larger than its partition is not read', async () => {
    const bytes = readFileSync(await makeExt('short', 16, []));
    expect(await extFreeRanges(readerOf(bytes), 0, bytes.length - 4096)).toMatchObject({ filesystem: null, reason: expect.stringMatching(/larger than its partition/) as unknown });
  });
});

/** A FAT with files, some deleted again (stale bytes left in their clusters). */
async function makeFat(name: string, sizeMiB: number, mkfsArgs: string[]): Promise<string> {
  const file = at(`${name}.fat`);
  await run('truncate', ['-s', `${sizeMiB}M`, file]);
  await run('mkfs.vfat', [...mkfsArgs, file]);
  for (const [n, bytes] of [['GONE1.BIN', 600_000], ['a long kept name.bin', 300_000], ['GONE2.BIN', 200_000]] as const) {
    writeFileSync(at(`${name}-${n}`), randomBytes(bytes));
    await run('mcopy', ['-i', file, at(`${name}-${n}`), `::${n}`]);
  }
  await run('mdel', ['-i', file, '::GONE1.BIN', '::GONE2.BIN']);
  return file;
}

async function mdirFreeBytes(file: string): Promise<number> {
  const { stdout } = await run('mdir', ['-i', file, '::']);
  return Number((/([\d ]+) bytes free/.exec(stdout)?.[1] ?? '').replace(/ /g, ''));
}

describe('FAT free clusters agree with mdir', () => {
  const variants: [string, number, string[], string][] = [
    ['fat12', 4, ['-F', '12'], 'fat12'],
    ['fat16', 32, ['-F', '16'], 'fat16'],
    ['fat32', 40, ['-F', '32', '-s', '1'], 'fat32'],
  ];
  for (const [name, size, args, kind] of variants) {
    it(name, async () => {
      const file = await makeFat(name, size, args);
      const bytes = readFileSync(file);
      const result = await fatFreeRanges(readerOf(bytes), 0, bytes.length);
      if (result.filesystem === null) throw new Error(result.reason);
      expect(result.filesystem).toBe(kind);
      expect(result.freeBytes).toBe(await mdirFreeBytes(file));
      expect(result.freeBytes).toBeGreaterThan(size * mib * 0.5);
      // Nothing before the data area (boot sector, FATs, root directory) is ever free.
      const geometry = fatGeometry(bytes.subarray(0, 512));
      if (typeof geometry === 'string') throw new Error(geometry);
      expect(result.ranges[0]?.offset).toBeGreaterThanOrEqual(geometry.dataStartSector * geometry.bytesPerSector);
    });
  }

  it('a cluster free in the first FAT but used in the second stays mapped', async () => {
    const bytes = readFileSync(await makeFat('fat16-drift', 32, ['-F', '16']));
    const before = await fatFreeRanges(readerOf(bytes), 0, bytes.length);
    const geometry = fatGeometry(bytes.subarray(0, 512));
    if (before.filesystem === null || typeof geometry === 'string') throw new Error('not read');
    const lastCluster = geometry.clusterCount + 1;
    bytes.writeUInt16LE(0xffff, (geometry.reservedSectors + geometry.fatSectors) * geometry.bytesPerSector + lastCluster * 2);
    const after = await fatFreeRanges(readerOf(bytes), 0, bytes.length);
    if (after.filesystem === null) throw new Error(after.reason);
    expect(before.freeBytes - after.freeBytes).toBe(geometry.sectorsPerCluster * geometry.bytesPerSector);
  });

  it('a boot sector that does not add up is not read', async () => {
    const bytes = readFileSync(await makeFat('fat-bad', 4, ['-F', '12']));
    bytes[0x0d] = 3;
    expect(await fatFreeRanges(readerOf(bytes), 0, bytes.length)).toMatchObject({ filesystem: null, reason: expect.stringMatching(/power of two/) as unknown });
    expect(await fatFreeRanges(readerOf(Buffer.alloc(4 * mib)), 0, 4 * mib)).toMatchObject({ filesystem: null, reason: 'no boot sector signature' });
  });
});
