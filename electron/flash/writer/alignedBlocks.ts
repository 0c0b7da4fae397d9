/**
 * The drive's write blocks: `blockCount` aligned 4 MiB buffers every write and read-back goes
 * through, in shared memory so the hash worker (hashWorker.ts) reads them in place.
 */
import type { FileHandle } from 'node:fs/promises';

/** 4 MiB: the top of the 1-4 MiB range; SD cards erase in 4 MiB allocation units. */
export const writeBlockBytes = 4 << 20;
/**
 * Aligned blocks per drive (16 MiB): one being filled or checked, one being read from an
 * uncompressed image file, the rest written. Two already overlap; more absorb a slow write.
 */
export const blockCount = 4;
/** The most any O_DIRECT buffer alignment needs (logical block sizes are 512 or 4096). */
export const alignment = 4096;

const zeroPage = Buffer.alloc(alignment);

/** True when `bytes` holds nothing but zeros (memcmp a page at a time). */
export function allZero(bytes: Buffer): boolean {
  for (let at = 0; at < bytes.length; at += alignment) {
    const piece = bytes.subarray(at, at + alignment);
    if (!piece.equals(piece.length === alignment ? zeroPage : zeroPage.subarray(0, piece.length))) return false;
  }
  return true;
}

/** The tsconfig has no WebAssembly lib types; only Memory is used. */
const wasm = (globalThis as unknown as { WebAssembly: { Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => { buffer: SharedArrayBuffer } } }).WebAssembly;

/**
 * A buffer usable with O_DIRECT. Node cannot allocate aligned memory nor report a buffer's
 * address; Buffer backing stores come from malloc ("page + 16" at best). Trying offsets and
 * keeping the one whose O_DIRECT read succeeds does not work: zram (and other devices with a
 * loose DMA alignment) accept every offset, and on this kernel such unaligned direct reads
 * overwrote malloc's chunk header (the process aborted with "munmap_chunk(): invalid
 * pointer"). A WebAssembly.Memory's backing store is mapped with mmap and so page-aligned,
 * and it never moves while it is not grown: a Buffer over it is aligned at offset 0. It is
 * shared memory, so the hash worker (hashWorker.ts) reads the blocks in place.
 * One 4 KiB direct read from the device confirms the device takes O_DIRECT at all.
 */
export async function alignedBlocks(probe: FileHandle): Promise<Buffer[] | null> {
  const pages = Math.ceil((blockCount * writeBlockBytes) / 65536);
  const slab = Buffer.from(new wasm.Memory({ initial: pages, maximum: pages, shared: true }).buffer);
  try {
    await probe.read(slab, 0, alignment, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EINVAL') return null;
    throw error;
  }
  // writeBlockBytes is a multiple of the page size: every block starts page-aligned.
  return Array.from({ length: blockCount }, (_, i) => slab.subarray(i * writeBlockBytes, (i + 1) * writeBlockBytes));
}

/** Blocks for buffered writes (no O_DIRECT): shared memory all the same, for the hash worker. */
export function sharedBlocks(): Buffer[] {
  return Array.from({ length: blockCount }, () => Buffer.from(new SharedArrayBuffer(writeBlockBytes)));
}
