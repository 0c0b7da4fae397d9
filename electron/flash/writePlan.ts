/**
 * What a flash of a signed image writes and reads back, from its block map (shared/image.ts):
 * every byte of the raw image except the free filesystem space the map lists — data ranges
 * and the zeros between them alike, so a used card ends up holding the image wherever a
 * filesystem of it can read — or, with `writeAll`, every byte. The read-back covers the same
 * bytes: data ranges by their signed SHA-256, the rest as zeros.
 */
import type { ImageManifest } from '../../shared/image.ts';
import type { WrittenRange } from './writer/readBack.ts';

export type Span = { offset: number; length: number };

export type WritePlan = {
  /** What is written, merged into the longest runs (the complement of `skipped`). */
  write: Span[];
  /** What is read back: the data ranges with their SHA-256, the zeros between them with null. */
  readBack: WrittenRange[];
  /** Free filesystem space left unwritten (and discarded where the drive can). */
  skipped: Span[];
  writeBytes: number;
};

/** The complement of `spans` (sorted, apart) within [0, size). */
function gapsOf(spans: readonly Span[], size: number): Span[] {
  const gaps: Span[] = [];
  let at = 0;
  for (const s of spans) {
    if (s.offset > at) gaps.push({ offset: at, length: Math.min(s.offset, size) - at });
    at = Math.max(at, s.offset + s.length);
    if (at >= size) break;
  }
  if (at < size) gaps.push({ offset: at, length: size - at });
  return gaps.filter((g) => g.length > 0);
}

/**
 * The plan for `manifest`. A version-1 map lists no free space: its zeros are all written (its
 * writers skipped them all, which is what left old bytes inside files).
 */
export function planWrites(manifest: Pick<ImageManifest, 'payload' | 'block_map'>, writeAll = false): WritePlan {
  const size = manifest.payload.raw_size;
  const skipped = writeAll ? [] : (manifest.block_map.free ?? []).flatMap((f) => (f.offset >= size ? [] : [{ offset: f.offset, length: Math.min(f.length, size - f.offset) }]));
  const write = gapsOf(skipped, size);
  const data = manifest.block_map.ranges;
  // Zeros to write: the written runs minus the data ranges (which lie inside them: the schema keeps data and free apart).
  const zeros = write.flatMap((run) => gapsOf(piecesIn(data, run.offset, run.offset + run.length).map((p) => ({ offset: p.offset - run.offset, length: p.length })), run.length).map((g) => ({ offset: run.offset + g.offset, length: g.length })));
  const readBack: WrittenRange[] = [...data.map((r) => ({ offset: r.offset, length: r.length, sha256: r.sha256 })), ...zeros.map((z) => ({ ...z, sha256: null }))].sort((a, b) => a.offset - b.offset);
  return { write, readBack, skipped, writeBytes: write.reduce((sum, s) => sum + s.length, 0) };
}

/** Pieces of [start, end) that fall inside `spans` (sorted, apart); binary search, as it runs for every block and chunk. */
export function piecesIn(spans: readonly Span[], start: number, end: number): Span[] {
  let lo = 0;
  let hi = spans.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const span = spans[mid] as Span;
    if (span.offset + span.length <= start) lo = mid + 1;
    else hi = mid;
  }
  const pieces: Span[] = [];
  for (let i = lo; i < spans.length; i++) {
    const span = spans[i] as Span;
    if (span.offset >= end) break;
    const a = Math.max(start, span.offset);
    const b = Math.min(end, span.offset + span.length);
    if (b > a) pieces.push({ offset: a, length: b - a });
  }
  return pieces;
}
