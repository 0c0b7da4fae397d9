/** Shapes shared by the filesystem readers of this folder. */

/** Reads `length` bytes at absolute image offset `offset` (fewer at the end of the image). */
export type ReadAt = (offset: number, length: number) => Promise<Buffer>;

/** A span of the raw image, in bytes. */
export type ByteRange = { offset: number; length: number };

/** What a filesystem reader found: its free ranges, or why it left the partition alone. */
export type FreeSpaceResult =
  | { filesystem: 'ext2' | 'ext3' | 'ext4' | 'fat12' | 'fat16' | 'fat32'; ranges: ByteRange[]; freeBytes: number }
  | { filesystem: null; reason: string };

/** Sorts `ranges` and joins the ones that touch or overlap. */
export function mergeRanges(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = [...ranges].filter((r) => r.length > 0).sort((a, b) => a.offset - b.offset);
  const merged: ByteRange[] = [];
  for (const r of sorted) {
    const last = merged.at(-1);
    if (last !== undefined && r.offset <= last.offset + last.length) last.length = Math.max(last.length, r.offset + r.length - last.offset);
    else merged.push({ offset: r.offset, length: r.length });
  }
  return merged;
}
