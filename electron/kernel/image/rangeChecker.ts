/**
 * Checks a raw image against its signed block map: each mapped range's SHA-256, and that every
 * byte outside the ranges is zero (a sparse write leaves those bytes alone, so a block map that
 * calls data "zero" would make a card differ from the image). One walk of the raw bytes
 * against the ranges (`RangeCursor`) serves both ways the check is run:
 * - `RangeChecker` hashes in this thread as the stream flows past (image verification, the
 *   OS slot writer);
 * - `BlockMapChecker` splits it in two so neither holds the flash's stream up: `checkZeros`
 *   looks at the stream's chunks as they come (memcmp; unmapped bytes go no further), and
 *   `hashBlock` sends the mapped bytes of each block in the drive's shared memory to a hash
 *   worker while the main thread fills the next block. A range's mismatch shows in
 *   `mismatch` when the worker's digest comes back (a block or two later); `complete` waits
 *   for every digest.
 */
import { createHash, type Hash } from 'node:crypto';
import type { MappedRange } from '../../../shared/image.ts';

export type RangeMismatch = { kind: 'range'; range: MappedRange } | { kind: 'unmapped'; offset: number };

/** A stretch of raw bytes: between ranges (must be zero), or a piece of range `index` (`last`: the piece that ends it). */
type Stretch = { kind: 'gap'; from: number; to: number } | { kind: 'mapped'; index: number; range: MappedRange; from: number; to: number; last: boolean };

/** Walks raw stretches, in order, against the sorted, disjoint ranges; remembers the first range not yet passed. */
class RangeCursor {
  private readonly ranges: readonly MappedRange[];
  private next = 0;

  constructor(ranges: readonly MappedRange[]) {
    this.ranges = ranges;
  }

  /** Ranges walked to their end. */
  get passed(): number {
    return this.next;
  }

  /** The stretches of raw [from, to); `from` never goes back between calls. */
  *stretches(from: number, to: number): Generator<Stretch> {
    let at = from;
    while (at < to) {
      const range = this.ranges[this.next];
      if (range !== undefined && at >= range.offset + range.length) {
        this.next++;
        continue;
      }
      if (range === undefined || at < range.offset) {
        const end = range === undefined ? to : Math.min(to, range.offset);
        yield { kind: 'gap', from: at, to: end };
        at = end;
        continue;
      }
      const rangeEnd = range.offset + range.length;
      const end = Math.min(to, rangeEnd);
      const index = this.next;
      // Advanced before the yield: a caller that stops at this stretch has still passed the range.
      if (end === rangeEnd) this.next++;
      yield { kind: 'mapped', index, range, from: at, to: end, last: end === rangeEnd };
      at = end;
    }
  }
}

/** The first non-zero raw offset of `chunk`'s bytes in raw [from, to) (chunk starts at raw `position`), or null. */
function nonZeroIn(chunk: Buffer, position: number, from: number, to: number): number | null {
  const zeroEnd = firstNonZero(chunk, from - position, to - position);
  return zeroEnd === to - position ? null : position + zeroEnd;
}

/** The whole check in this thread, as the raw stream flows past in order. */
export class RangeChecker {
  private readonly ranges: readonly MappedRange[];
  private readonly cursor: RangeCursor;
  private current: Hash | null = null;
  private position = 0;
  /** The first mismatch seen; later bytes are not looked at. */
  mismatch: RangeMismatch | null = null;

  constructor(ranges: readonly MappedRange[]) {
    this.ranges = ranges;
    this.cursor = new RangeCursor(ranges);
  }

  update(chunk: Buffer): void {
    const position = this.position;
    this.position += chunk.length;
    if (this.mismatch !== null) return;
    for (const stretch of this.cursor.stretches(position, position + chunk.length)) {
      if (stretch.kind === 'gap') {
        const offset = nonZeroIn(chunk, position, stretch.from, stretch.to);
        if (offset !== null) this.mismatch = { kind: 'unmapped', offset };
      } else {
        this.current ??= createHash('sha256');
        this.current.update(chunk.subarray(stretch.from - position, stretch.to - position));
        if (stretch.last) {
          if (this.current.digest('hex') !== stretch.range.sha256) this.mismatch = { kind: 'range', range: stretch.range };
          this.current = null;
        }
      }
      if (this.mismatch !== null) return;
    }
  }

  /** True when the stream covered every range and nothing mismatched. */
  complete(): boolean {
    return this.mismatch === null && this.cursor.passed === this.ranges.length;
  }
}

/** Feed `bytes` into the hash named `key` (created on first use); `digest` ends it with its hex SHA-256. */
export type RangeHashJob = { key: string; bytes?: Uint8Array; digest?: boolean };

/** Hashes off this thread: runs jobs in order, resolves with the digests asked for once done with every view. */
export type RangeHasher = { run(jobs: readonly RangeHashJob[]): Promise<string[]> };

/** The check split between the stream (zeros) and the blocks it fills (hashes, by `hasher`). */
export class BlockMapChecker {
  private readonly ranges: readonly MappedRange[];
  private readonly hasher: RangeHasher;
  /** checkZeros' walk and stream position. */
  private readonly zeroCursor: RangeCursor;
  private position = 0;
  /** hashBlock's walk, and how many ranges were digested. */
  private readonly hashCursor: RangeCursor;
  private digested = 0;
  private readonly hashing = new Set<Promise<void>>();
  private failed: { error: unknown } | null = null;
  /** The first mismatch seen. */
  mismatch: RangeMismatch | null = null;

  constructor(ranges: readonly MappedRange[], hasher: RangeHasher) {
    this.ranges = ranges;
    this.hasher = hasher;
    this.zeroCursor = new RangeCursor(ranges);
    this.hashCursor = new RangeCursor(ranges);
  }

  /** The next `chunk` of the raw image (stream order): its bytes outside every range must be zero. */
  checkZeros(chunk: Buffer): void {
    const position = this.position;
    this.position += chunk.length;
    if (this.mismatch !== null) return;
    for (const stretch of this.zeroCursor.stretches(position, position + chunk.length)) {
      if (stretch.kind !== 'gap') continue;
      const offset = nonZeroIn(chunk, position, stretch.from, stretch.to);
      if (offset !== null) {
        this.mismatch = { kind: 'unmapped', offset };
        return;
      }
    }
  }

  /** The next `length` bytes of the stream are passed by unseen (a zero frame holding no mapped byte). */
  skip(length: number): void {
    this.position += length;
  }

  /**
   * Hashes the mapped bytes of the block at raw offset `start` (blocks in order; other bytes of
   * `bytes` may be stale). Resolves once the hasher is done reading `bytes` (the block may then
   * be reused); never rejects (a hasher failure is thrown by complete).
   */
  hashBlock(start: number, bytes: Buffer): Promise<void> {
    const jobs: RangeHashJob[] = [];
    const ending: MappedRange[] = [];
    for (const stretch of this.hashCursor.stretches(start, start + bytes.length)) {
      if (stretch.kind === 'gap') continue;
      jobs.push({ key: `range ${stretch.index}`, bytes: bytes.subarray(stretch.from - start, stretch.to - start), digest: stretch.last });
      if (stretch.last) ending.push(stretch.range);
    }
    if (jobs.length === 0) return Promise.resolve();
    const hashed = this.hasher.run(jobs).then(
      (digests) => {
        for (const [i, range] of ending.entries()) {
          this.digested++;
          if (digests[i] !== range.sha256) this.mismatch ??= { kind: 'range', range };
        }
      },
      (error: unknown) => {
        // Thrown by complete(); never by this promise, which callers may drop after a refusal.
        this.failed ??= { error };
      },
    );
    const tracked = hashed.finally(() => this.hashing.delete(tracked));
    this.hashing.add(tracked);
    return hashed;
  }

  /** True once every digest came back, the stream covered every range, and nothing mismatched. */
  async complete(): Promise<boolean> {
    while (this.hashing.size > 0) await Promise.all([...this.hashing]);
    if (this.failed !== null) throw this.failed.error;
    return this.mismatch === null && this.digested === this.ranges.length;
  }
}

const zeros = Buffer.alloc(1 << 20);

/** The first non-zero byte in chunk[from, to), or `to`; memcmp against zeros, byte by byte only to locate a hit. */
function firstNonZero(chunk: Buffer, from: number, to: number): number {
  for (let at = from; at < to; at += zeros.length) {
    const end = Math.min(to, at + zeros.length);
    if (chunk.subarray(at, end).equals(zeros.subarray(0, end - at))) continue;
    for (let i = at; i < end; i++) if (chunk[i] !== 0) return i;
  }
  return to;
}
