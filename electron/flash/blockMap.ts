/**
 * The block map of a raw disk image: which ranges hold data (and so must be written and
 * read back) and which are all zeros (a fresh card's content does not matter there, so they
 * are skipped). One streaming pass also gives the whole image's SHA-256.
 */
import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { BlockMap, MappedRange } from '../../shared/image.ts';

/** 1 MiB: small enough that the gaps between partitions and in sparse filesystems show up. */
export const defaultBlockSize = 1 << 20;

export type ScannedImage = { rawSize: number; rawSha256: string; blockMap: BlockMap };

const zeros = Buffer.alloc(defaultBlockSize);

function isZero(bytes: Buffer): boolean {
  // memcmp against a zero buffer: the scan is the pack's hot loop.
  for (let at = 0; at < bytes.length; at += zeros.length) {
    const piece = bytes.subarray(at, at + zeros.length);
    if (!piece.equals(zeros.subarray(0, piece.length))) return false;
  }
  return true;
}

/** Scans `file` in `blockSize` blocks; adjacent non-zero blocks merge into one range. */
export async function scanImage(file: string, blockSize: number = defaultBlockSize): Promise<ScannedImage> {
  const handle = await open(file, 'r');
  try {
    const whole = createHash('sha256');
    const ranges: MappedRange[] = [];
    let open_: { offset: number; length: number; hash: Hash } | null = null;
    const close = (): void => {
      if (open_ !== null) ranges.push({ offset: open_.offset, length: open_.length, sha256: open_.hash.digest('hex') });
      open_ = null;
    };
    const buffer = Buffer.alloc(blockSize);
    let at = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, blockSize, at);
      if (bytesRead === 0) break;
      const block = buffer.subarray(0, bytesRead);
      whole.update(block);
      if (isZero(block)) {
        close();
      } else {
        open_ ??= { offset: at, length: 0, hash: createHash('sha256') };
        open_.hash.update(block);
        open_.length += bytesRead;
      }
      at += bytesRead;
    }
    close();
    return { rawSize: at, rawSha256: whole.digest('hex'), blockMap: { block_size: blockSize, ranges } };
  } finally {
    await handle.close();
  }
}
