/**
 * Free filesystem space of a raw disk image, partition by partition: where the partition
 * type allows a filesystem we read (ext2/3/4, FAT12/16/32) and its own metadata says so,
 * the byte ranges no file uses. The pack zeroes those bytes, so they drop out of the block
 * map like any other zeros: a flash leaves whatever the drive held there, and the
 * filesystem, which marks them free, never reads them.
 */
import { open } from 'node:fs/promises';
import type { PartitionTable, TablePartition } from '../partitionTable.ts';
import { mergeRanges, type ByteRange, type FreeSpaceResult, type ReadAt } from './byteRanges.ts';
import { extFreeRanges, looksLikeExt } from './extFreeBlocks.ts';
import { fatFreeRanges } from './fatFreeClusters.ts';

export type { ByteRange } from './byteRanges.ts';

export type PartitionFreeSpace = { index: number } & FreeSpaceResult;
export type FreeSpace = { ranges: ByteRange[]; freeBytes: number; partitions: PartitionFreeSpace[] };

const mbrFat = new Set(['01', '04', '06', '0b', '0c', '0e', 'ef']);
const gptFat = new Set(['ebd0a0a2-b9e5-4433-87c0-68b6b72699c7', 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b']);
// Linux filesystem data, and the discoverable-partitions root (x86-64, arm64, arm), /home, /srv, /var.
const gptLinux = new Set([
  '0fc63daf-8483-4772-8e79-3d69e4d4c4e4',
  '4f68bce3-e8cd-4db1-96e7-fbcaf984b709',
  'b921b045-1df0-41c3-af44-4c6f280d3fae',
  '69dad710-2ce4-4e3c-b16c-21a1d49abed3',
  '933ac7e1-2eb4-4f13-b844-0e14e2aef915',
  '3b8f8425-20e0-4f3b-907f-1a25a76f98e8',
  '4d21b016-b534-45c2-a9fb-5c16e091fd2d',
]);

/** Which reader a partition's type allows: a filesystem signature alone is not enough (old formats leave theirs behind). */
function readerFor(p: TablePartition): 'ext' | 'fat' | null {
  if (p.container) return null;
  if (p.type === '83' || gptLinux.has(p.type)) return 'ext';
  if (mbrFat.has(p.type) || gptFat.has(p.type)) return 'fat';
  return null;
}

/** The free space of every partition whose type and filesystem we recognise, read through `readAt`. */
export async function findFreeSpaceWith(readAt: ReadAt, table: PartitionTable): Promise<FreeSpace> {
  const partitions: PartitionFreeSpace[] = [];
  const data = table.partitions.filter((p) => !p.container);
  for (const p of table.partitions) {
    const reader = readerFor(p);
    // A table whose partitions overlap: one's free space may be another's data.
    const overlap = data.find((q) => q !== p && q.start < p.start + p.size && p.start < q.start + q.size);
    let result: FreeSpaceResult;
    if (overlap !== undefined && !p.container) {
      result = { filesystem: null, reason: `overlaps partition ${overlap.index}` };
    } else if (reader === 'ext') {
      result = looksLikeExt(await readAt(p.start + 1024, 1024)) ? await extFreeRanges(readAt, p.start, p.size) : { filesystem: null, reason: 'a Linux partition without an ext superblock' };
    } else if (reader === 'fat') {
      result = await fatFreeRanges(readAt, p.start, p.size);
    } else {
      result = { filesystem: null, reason: p.container ? 'an extended partition (a container)' : `partition type ${p.type} is not read for free space` };
    }
    // Never trust a reader past its partition's bounds.
    if (result.filesystem !== null && result.ranges.some((r) => r.offset < p.start || r.offset + r.length > p.start + p.size)) {
      result = { filesystem: null, reason: 'free space computed outside the partition' };
    }
    partitions.push({ index: p.index, ...result });
  }
  const ranges = mergeRanges(partitions.flatMap((p) => (p.filesystem === null ? [] : p.ranges)));
  return { ranges, freeBytes: ranges.reduce((sum, r) => sum + r.length, 0), partitions };
}

/** The free space of the raw image `file` with partition table `table`. */
export async function findFreeSpace(file: string, table: PartitionTable): Promise<FreeSpace> {
  const handle = await open(file, 'r');
  try {
    return await findFreeSpaceWith(async (offset, length) => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    }, table);
  } finally {
    await handle.close();
  }
}
