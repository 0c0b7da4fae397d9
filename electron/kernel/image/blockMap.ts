/**
 * The block map of a raw disk image, block by block: data (non-zero: written, hashed, read
 * back), free (every byte filesystem free space, freeBlocks/: all zeros in the stored image,
 * and a writer may leave the drive's old bytes there, as no filesystem reads them), or zeros
 * that are not free — a file of zeros, an inode table, a journal, anything not understood —
 * which a writer must write as zeros: a used card's old bytes there would be read. Only the
 * data and free blocks are listed (shared/image.ts, BlockMapSchema); the rest is implied.
 * One streaming pass also gives the whole image's SHA-256.
 */
import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { BlockMap, FreeRange, MappedRange } from '../../../shared/image.ts';
import type { ByteRange } from './freeBlocks/byteRanges.ts';

/**
 * 256 KiB: small enough that free filesystem space between files shows up. The A/B test image
 * after files were written and deleted maps 10.4 MB at 64 KiB, 13.1 MB at 256 KiB, 24.1 MB at
 * 1 MiB and 54.5 MB at 4 MiB blocks; finer blocks mean more ranges (manifest bytes, writes).
 */
export const defaultBlockSize = 256 << 10;
/** Data plus free ranges per manifest: about 130 bytes each at most, and the verifier reads at most 1 MiB of manifest. */
export const maxMappedRanges = 4096;
const maxBlockSize = 64 << 20;

/** Bytes per read: big reads for throughput, whatever the block size. */
const readChunkBytes = 4 << 20;

export type ScannedImage = { rawSize: number; rawSha256: string; blockMap: BlockMap };

const zeros = Buffer.alloc(1 << 20);

function isZero(bytes: Buffer): boolean {
  // memcmp against a zero buffer: the scan is the pack's hot loop.
  for (let at = 0; at < bytes.length; at += zeros.length) {
    const piece = bytes.subarray(at, at + zeros.length);
    if (!piece.equals(zeros.subarray(0, piece.length))) return false;
  }
  return true;
}

/**
 * The raw image as the pack stores it: `file` read in chunks, with the bytes of the `free`
 * ranges (sorted, filesystem space no file uses) zeroed. Each chunk is a fresh buffer, so a
 * consumer may hold on to it.
 */
export async function* readImageZeroingFree(file: string, free: readonly ByteRange[] = [], chunkBytes: number = readChunkBytes): AsyncGenerator<Buffer> {
  const handle = await open(file, 'r');
  try {
    let next = 0;
    for (let at = 0; ; ) {
      const chunk = Buffer.allocUnsafe(chunkBytes);
      let filled = 0;
      while (filled < chunkBytes) {
        const { bytesRead } = await handle.read(chunk, filled, chunkBytes - filled, at + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled === 0) return;
      const end = at + filled;
      while (next < free.length && (free[next]?.offset ?? 0) + (free[next]?.length ?? 0) <= at) next++;
      for (let i = next; i < free.length; i++) {
        const range = free[i];
        if (range === undefined || range.offset >= end) break;
        chunk.fill(0, Math.max(range.offset, at) - at, Math.min(range.offset + range.length, end) - at);
      }
      yield chunk.subarray(0, filled);
      at = end;
      if (filled < chunkBytes) return;
    }
  } finally {
    await handle.close();
  }
}

/** True when [start, end) lies inside one of `free` (sorted, merged), from index `hint` on; returns the index to start from next time. */
function insideFree(free: readonly ByteRange[], hint: number, start: number, end: number): { inside: boolean; hint: number } {
  let i = hint;
  while (i < free.length && (free[i]?.offset ?? 0) + (free[i]?.length ?? 0) <= start) i++;
  const range = free[i];
  return { inside: range !== undefined && range.offset <= start && end <= range.offset + range.length, hint: i };
}

/**
 * Scans `file` in `blockSize` blocks, `free` ranges (sorted and merged, as findFreeSpace
 * gives them) read as zeros (see readImageZeroingFree); adjacent non-zero blocks merge into
 * one range, adjacent all-free blocks into one free range. A block only partly free is data
 * or zeros to write, never free.
 */
export async function scanImage(file: string, blockSize: number = defaultBlockSize, free: readonly ByteRange[] = []): Promise<ScannedImage> {
  const whole = createHash('sha256');
  const ranges: MappedRange[] = [];
  const freeBlocks: FreeRange[] = [];
  let freeHint = 0;
  const addFree = (offset: number, length: number): void => {
    const last = freeBlocks.at(-1);
    if (last !== undefined && last.offset + last.length === offset) last.length += length;
    else freeBlocks.push({ offset, length });
  };
  let open_: { offset: number; length: number; hash: Hash } | null = null;
  const close = (): void => {
    if (open_ !== null) ranges.push({ offset: open_.offset, length: open_.length, sha256: open_.hash.digest('hex') });
    open_ = null;
  };
  let at = 0;
  // Whole blocks per read, so block boundaries never straddle two chunks.
  const chunkBytes = Math.max(1, Math.floor(readChunkBytes / blockSize)) * blockSize;
  for await (const chunk of readImageZeroingFree(file, free, chunkBytes)) {
    whole.update(chunk);
    for (let from = 0; from < chunk.length; from += blockSize) {
      const block = chunk.subarray(from, from + blockSize);
      if (isZero(block)) {
        close();
        const start = at + from;
        const found = insideFree(free, freeHint, start, start + block.length);
        freeHint = found.hint;
        if (found.inside) addFree(start, block.length);
      } else {
        open_ ??= { offset: at + from, length: 0, hash: createHash('sha256') };
        open_.hash.update(block);
        open_.length += block.length;
      }
    }
    at += chunk.length;
  }
  close();
  return { rawSize: at, rawSha256: whole.digest('hex'), blockMap: { block_size: blockSize, ranges, free: freeBlocks } };
}

/**
 * scanImage from `blockSize` up, doubling the block size while the map would list more than
 * `limit` ranges, data and free together (a very fragmented image then maps coarser rather
 * than making a manifest the verifier refuses).
 */
export async function scanImageFitting(file: string, free: readonly ByteRange[], blockSize: number = defaultBlockSize, limit: number = maxMappedRanges): Promise<ScannedImage> {
  for (let size = blockSize; ; size *= 2) {
    const scanned = await scanImage(file, size, free);
    if (scanned.blockMap.ranges.length + (scanned.blockMap.free ?? []).length <= limit || size * 2 > maxBlockSize) return scanned;
  }
}
