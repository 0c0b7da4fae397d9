/**
 * The image format's pure parts on hand-made bytes: MBR with logical partitions and GPT
 * entries, the range checker that streams a raw image against its block map, role
 * assignment and the manifest schema's refusals.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { layoutOf } from '../../electron/kernel/image/imageLayout.ts';
import { formatGuid, readPartitionTableWith } from '../../electron/kernel/image/partitionTable.ts';
import { RangeChecker } from '../../electron/kernel/image/rangeChecker.ts';
import { BlockMapSchema } from '../../shared/image.ts';

function disk(size: number): Buffer {
  return Buffer.alloc(size);
}
function entry(sector: Buffer, slot: number, type: number, start: number, sectors: number): void {
  const at = 446 + slot * 16;
  sector.writeUInt8(type, at + 4);
  sector.writeUInt32LE(start, at + 8);
  sector.writeUInt32LE(sectors, at + 12);
  sector.writeUInt16LE(0xaa55, 510);
}
const reader = (bytes: Buffer) => (offset: number, length: number) => Promise.resolve(bytes.subarray(offset, offset + length));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('partition table reader', () => {
  it('follows the chain of extended boot records, numbering logicals from 5', async () => {
    const bytes = disk(200 * 512);
    entry(bytes, 0, 0x0c, 8, 16);
    entry(bytes, 1, 0x05, 40, 100);
    // First EBR at sector 40: logical at +2 for 10 sectors, link to the next EBR at extended+30.
    const ebr1 = bytes.subarray(40 * 512, 41 * 512);
    entry(ebr1, 0, 0x83, 2, 10);
    entry(ebr1, 1, 0x05, 30, 20);
    const ebr2 = bytes.subarray(70 * 512, 71 * 512);
    entry(ebr2, 0, 0x83, 2, 15);
    const table = await readPartitionTableWith(reader(bytes), 'hand.img');
    expect(table.table).toBe('mbr');
    expect(table.partitions.map((p) => [p.index, p.start / 512, p.size / 512, p.type, p.container])).toEqual([
      [1, 8, 16, '0c', false],
      [2, 40, 100, '05', true],
      [5, 42, 10, '83', false],
      [6, 72, 15, '83', false],
    ]);
  });

  it('refuses a disk without a boot signature, and a protective MBR without a GPT header', async () => {
    await expect(readPartitionTableWith(reader(disk(4096)), 'blank.img')).rejects.toThrow(/blank\.img has no readable partition table: sector 0 has no 55AA/);
    const protective = disk(4096);
    entry(protective, 0, 0xee, 1, 7);
    await expect(readPartitionTableWith(reader(protective), 'p.img')).rejects.toThrow(/no GPT header at sector 1/);
  });

  it('formats GPT GUIDs with their first three fields little-endian', () => {
    // The Microsoft basic data GUID as stored on disk.
    const stored = Buffer.from('a2a0d0ebe5b9334487c068b6b72699c7', 'hex');
    expect(formatGuid(stored)).toBe('ebd0a0a2-b9e5-4433-87c0-68b6b72699c7');
  });
});

describe('range checker', () => {
  const image = Buffer.alloc(64);
  image.fill(7, 8, 16);
  image.fill(9, 40, 48);
  const ranges = [
    { offset: 8, length: 8, sha256: sha(image.subarray(8, 16)) },
    { offset: 40, length: 8, sha256: sha(image.subarray(40, 48)) },
  ];

  it('accepts the image however the stream is chunked', () => {
    for (const size of [1, 3, 8, 13, 64]) {
      const checker = new RangeChecker(ranges);
      for (let at = 0; at < image.length; at += size) checker.update(image.subarray(at, at + size));
      expect(checker.complete(), `chunks of ${size}`).toBe(true);
    }
  });

  it('names a range whose bytes differ, and data where the map says zeros', () => {
    const altered = Buffer.from(image);
    altered[44] = 1;
    const a = new RangeChecker(ranges);
    a.update(altered);
    expect(a.mismatch).toEqual({ kind: 'range', range: ranges[1] });
    const stray = Buffer.from(image);
    stray[30] = 1;
    const b = new RangeChecker(ranges);
    b.update(stray);
    expect(b.mismatch).toEqual({ kind: 'unmapped', offset: 30 });
    const short = new RangeChecker(ranges);
    short.update(image.subarray(0, 44));
    expect(short.complete()).toBe(false);
  });
});

describe('layout and schema', () => {
  const part = (index: number, name?: string) => ({ index, start: index * 1024, size: 1024, type: '83', container: false, ...(name === undefined ? {} : { name }) });

  it('takes roles from GPT names, or from the tryboot order when there are six partitions', () => {
    expect(layoutOf({ table: 'gpt', partitions: [part(1, 'boot_a'), part(2, 'rootfs'), part(3, 'data')] }).partitions.map((p) => p.role)).toEqual(['boot_a', 'other', 'data']);
    expect(layoutOf({ table: 'mbr', partitions: [1, 2, 3, 5, 6, 7].map((i) => part(i)) }).partitions.map((p) => p.role)).toEqual(['bootsel', 'boot_a', 'boot_b', 'root_a', 'root_b', 'data']);
    expect(layoutOf({ table: 'mbr', partitions: [part(1), part(2)] }).partitions.map((p) => p.role)).toEqual(['other', 'other']);
  });

  it('refuses overlapping block-map ranges', () => {
    const sha256 = '0'.repeat(64);
    expect(BlockMapSchema.safeParse({ block_size: 1 << 20, ranges: [{ offset: 0, length: 10, sha256 }, { offset: 5, length: 10, sha256 }] }).success).toBe(false);
    expect(BlockMapSchema.safeParse({ block_size: 1 << 20, ranges: [{ offset: 0, length: 10, sha256 }, { offset: 10, length: 10, sha256 }] }).success).toBe(true);
  });
});
