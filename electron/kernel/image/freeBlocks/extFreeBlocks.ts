/**
 * Free blocks of an ext2/3/4 filesystem, from its superblock, group descriptors and block
 * bitmaps (read without mounting, so it runs on any laptop). A block the bitmap calls free
 * holds nothing the filesystem will read, so the pack zeroes it and leaves it out of the
 * block map. Anything this reader does not fully understand — an unknown feature, a journal
 * still to replay, counts that disagree with the bitmaps — answers "not recognised" and the
 * whole partition stays as it is: a block kept needlessly costs a write, a block dropped
 * wrongly costs a filesystem.
 */
import type { ByteRange, FreeSpaceResult, ReadAt } from './byteRanges.ts';
import { mergeRanges } from './byteRanges.ts';

const superblockOffset = 1024;
const extMagic = 0xef53;

// Incompatible features whose block allocation we understand (everything else → keep all):
// filetype, extents, 64bit, mmp, flex_bg, ea_inode, csum_seed, largedir, inline_data,
// encrypt, casefold. Not: compression, recover (journal to replay), journal_dev, meta_bg, dirdata.
const knownIncompat = 0x0002 | 0x0040 | 0x0080 | 0x0100 | 0x0200 | 0x0400 | 0x2000 | 0x4000 | 0x8000 | 0x10000 | 0x20000;
// Read-only-compatible features we understand: sparse_super, large_file, btree_dir, huge_file,
// gdt_csum, dir_nlink, extra_isize, quota, metadata_csum, readonly, project, shared_blocks,
// verity, orphan_present. Not: has_snapshot, bigalloc (bitmaps count clusters), replica.
const knownRoCompat = 0x0001 | 0x0002 | 0x0004 | 0x0008 | 0x0010 | 0x0020 | 0x0040 | 0x0100 | 0x0400 | 0x1000 | 0x2000 | 0x4000 | 0x8000 | 0x10000;
const incompat64bit = 0x0080;
const roCompatSparseSuper = 0x0001;
const roCompatGdtCsum = 0x0010;
const roCompatMetadataCsum = 0x0400;
const compatSparseSuper2 = 0x0200;
const blockUninit = 0x0002;
const stateValid = 0x0001;
const stateErrors = 0x0002;

type Group = { blockBitmap: number; inodeBitmap: number; inodeTable: number; freeBlocks: number; flags: number };

/** True if `n` is 1 or a power of 3, 5 or 7: the groups sparse_super keeps a superblock backup in. */
function isSparseBackupGroup(n: number): boolean {
  if (n <= 1) return true;
  for (const base of [3, 5, 7]) {
    let p = base;
    while (p < n) p *= base;
    if (p === n) return true;
  }
  return false;
}

function notRecognised(reason: string): FreeSpaceResult {
  return { filesystem: null, reason };
}

/** True if the partition starts with an ext2/3/4 superblock (the magic only; `extFreeRanges` checks the rest). */
export function looksLikeExt(superblock: Buffer): boolean {
  return superblock.length >= 1024 && superblock.readUInt16LE(0x38) === extMagic;
}

/** What the superblock says of the filesystem's layout. */
type ExtGeometry = {
  blockSize: number;
  logBlock: number;
  revision: number;
  compat: number;
  incompat: number;
  roCompat: number;
  is64: boolean;
  blocksCount: number;
  firstDataBlock: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  inodeSize: number;
  descSize: number;
};

/** The filesystem's layout from its superblock, or why it is not one whose free blocks we read. */
function superblockGeometry(sb: Buffer, size: number): ExtGeometry | string {
  const u32 = (at: number): number => sb.readUInt32LE(at);
  const logBlock = u32(0x18);
  if (logBlock > 6) return `block size 1024 << ${logBlock} is implausible`;
  const blockSize = 1024 << logBlock;
  const revision = u32(0x4c);
  const compat = revision >= 1 ? u32(0x5c) : 0;
  const incompat = revision >= 1 ? u32(0x60) : 0;
  const roCompat = revision >= 1 ? u32(0x64) : 0;
  const unknownIncompat = incompat & ~knownIncompat;
  if (unknownIncompat !== 0) return `incompatible features 0x${unknownIncompat.toString(16)} (journal to replay, meta_bg or newer) are not understood`;
  const unknownRo = roCompat & ~knownRoCompat;
  if (unknownRo !== 0) return `read-only-compatible features 0x${unknownRo.toString(16)} (bigalloc, snapshots or newer) are not understood`;
  const state = sb.readUInt16LE(0x3a);
  if ((state & stateValid) === 0 || (state & stateErrors) !== 0) return 'the filesystem was not cleanly unmounted or has errors';

  const is64 = (incompat & incompat64bit) !== 0;
  const blocksCount = u32(0x04) + (is64 ? u32(0x150) * 2 ** 32 : 0);
  const firstDataBlock = u32(0x14);
  const blocksPerGroup = u32(0x20);
  const inodesPerGroup = u32(0x28);
  const inodeSize = revision >= 1 ? sb.readUInt16LE(0x58) : 128;
  const descSize = is64 ? sb.readUInt16LE(0xfe) : 32;
  if (blocksPerGroup === 0 || blocksPerGroup > blockSize * 8 || inodeSize < 128 || descSize < 32 || (is64 && descSize < 64) || firstDataBlock !== (blockSize === 1024 ? 1 : 0)) {
    return 'the superblock geometry is implausible';
  }
  if (u32(0x1c) !== logBlock) return 'cluster size differs from block size (bigalloc)';
  if (blocksCount * blockSize > size) return `the filesystem (${blocksCount * blockSize} bytes) is larger than its partition (${size} bytes)`;
  return { blockSize, logBlock, revision, compat, incompat, roCompat, is64, blocksCount, firstDataBlock, blocksPerGroup, inodesPerGroup, inodeSize, descSize };
}

/** The block groups' descriptors. */
function parseGroups(gdt: Buffer, groupCount: number, geo: ExtGeometry): Group[] {
  const { descSize, is64 } = geo;
  const groups: Group[] = [];
  for (let g = 0; g < groupCount; g++) {
    const d = g * descSize;
    const hi = (at: number): number => (is64 ? gdt.readUInt32LE(d + at) * 2 ** 32 : 0);
    groups.push({
      blockBitmap: gdt.readUInt32LE(d) + hi(0x20),
      inodeBitmap: gdt.readUInt32LE(d + 4) + hi(0x24),
      inodeTable: gdt.readUInt32LE(d + 8) + hi(0x28),
      freeBlocks: gdt.readUInt16LE(d + 0x0c) + (is64 ? gdt.readUInt16LE(d + 0x2c) * 65536 : 0),
      flags: gdt.readUInt16LE(d + 0x12),
    });
  }
  return groups;
}

/**
 * The blocks always kept, whatever a bitmap says: superblocks and their backups, descriptor
 * tables, bitmaps, inode tables — as sorted [from, to) block extents.
 */
function metadataExtents(sb: Buffer, geo: ExtGeometry, groups: readonly Group[], gdtBlocks: number): [number, number][] {
  const { compat, roCompat, firstDataBlock, blocksPerGroup } = geo;
  const reservedGdtBlocks = geo.revision >= 1 ? sb.readUInt16LE(0xce) : 0;
  const inodeTableBlocks = Math.ceil((geo.inodesPerGroup * geo.inodeSize) / geo.blockSize);
  const sparseSuper2 = (compat & compatSparseSuper2) !== 0;
  const backupGroups = new Set([sb.readUInt32LE(0x24c), sb.readUInt32LE(0x250)]);
  const hasSuperBackup = (g: number): boolean => {
    if (g === 0) return true;
    if (sparseSuper2) return backupGroups.has(g);
    if ((roCompat & roCompatSparseSuper) === 0) return true;
    return isSparseBackupGroup(g);
  };
  const metadata: [number, number][] = [];
  for (const [g, group] of groups.entries()) {
    const groupStart = firstDataBlock + g * blocksPerGroup;
    if (hasSuperBackup(g)) metadata.push([groupStart, groupStart + 1 + gdtBlocks + reservedGdtBlocks]);
    metadata.push([group.blockBitmap, group.blockBitmap + 1], [group.inodeBitmap, group.inodeBitmap + 1], [group.inodeTable, group.inodeTable + inodeTableBlocks]);
  }
  return metadata;
}

/** The free blocks of the ext filesystem at `start` (bytes into the image), `size` bytes long, as absolute byte ranges. */
export async function extFreeRanges(readAt: ReadAt, start: number, size: number): Promise<FreeSpaceResult> {
  const sb = await readAt(start + superblockOffset, 1024);
  if (!looksLikeExt(sb)) return notRecognised('no ext superblock');
  const geo = superblockGeometry(sb, size);
  if (typeof geo === 'string') return notRecognised(geo);
  const { blockSize, compat, incompat, roCompat, is64, blocksCount, firstDataBlock, blocksPerGroup, descSize } = geo;

  const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  const gdtBlocks = Math.ceil((groupCount * descSize) / blockSize);
  const gdt = await readAt(start + (firstDataBlock + 1) * blockSize, gdtBlocks * blockSize);
  if (gdt.length < groupCount * descSize) return notRecognised('the group descriptor table is cut short');
  const groups = parseGroups(gdt, groupCount, geo);
  // The kernel trusts BLOCK_UNINIT only when the descriptors are checksummed; so do we.
  const uninitTrusted = (roCompat & (roCompatGdtCsum | roCompatMetadataCsum)) !== 0;

  const metadata = metadataExtents(sb, geo, groups, gdtBlocks);
  for (const [a, b] of metadata) {
    if (a < firstDataBlock || b > blocksCount) return notRecognised('a group descriptor points outside the filesystem');
  }
  metadata.sort((x, y) => x[0] - y[0]);

  const free: ByteRange[] = [];
  let freeBytes = 0;
  const addFree = (block: number): void => {
    const offset = start + block * blockSize;
    const last = free.at(-1);
    if (last !== undefined && last.offset + last.length === offset) last.length += blockSize;
    else free.push({ offset, length: blockSize });
    freeBytes += blockSize;
  };
  for (const [g, group] of groups.entries()) {
    const groupStart = firstDataBlock + g * blocksPerGroup;
    const inGroup = Math.min(blocksPerGroup, blocksCount - groupStart);
    // 1 where a block of this group is metadata (of this group or, with flex_bg, another's).
    const kept = new Uint8Array(inGroup);
    for (const [a, b] of metadata) {
      if (a >= groupStart + inGroup) break;
      if (b > groupStart) kept.fill(1, Math.max(0, a - groupStart), Math.min(inGroup, b - groupStart));
    }
    let freeSeen = 0;
    if (uninitTrusted && (group.flags & blockUninit) !== 0) {
      // No bitmap on disk yet: everything in the group but metadata is free (as the kernel computes it).
      for (let i = 0; i < inGroup; i++) {
        if (kept[i] === 1) continue;
        freeSeen++;
        addFree(groupStart + i);
      }
    } else {
      const bitmap = await readAt(start + group.blockBitmap * blockSize, blockSize);
      if (bitmap.length < Math.ceil(inGroup / 8)) return notRecognised(`group ${g}'s block bitmap is cut short`);
      for (let i = 0; i < inGroup; i++) {
        if (((bitmap[i >> 3] ?? 0xff) & (1 << (i & 7))) !== 0) continue;
        freeSeen++;
        if (kept[i] !== 1) addFree(groupStart + i);
      }
    }
    if (freeSeen !== group.freeBlocks) return notRecognised(`group ${g} counts ${group.freeBlocks} free blocks but its bitmap has ${freeSeen} (run e2fsck on the image)`);
  }
  return { filesystem: is64 || (incompat & 0x0040) !== 0 ? 'ext4' : (compat & 0x0004) !== 0 ? 'ext3' : 'ext2', ranges: mergeRanges(free), freeBytes };
}
