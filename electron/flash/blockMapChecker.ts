/**
 * RangeChecker's counterpart for the signed writer: the same checks of the raw image against
 * its signed block map — every byte outside the ranges zero, each mapped range's SHA-256 —
 * split in two so neither holds the stream up: `checkZeros` looks at the stream's chunks as
 * they come (memcmp, on the main thread; unmapped bytes go no further), and `hashBlock` sends
 * the mapped bytes of each block in the drive's shared memory to the hash worker
 * (hashWorker.ts) while the main thread fills the next block. A range's hash mismatch shows
 * in `mismatch` when the worker's digest comes back (a block or two later); `complete` waits
 * for every digest.
 */
import type { MappedRange } from '../../shared/image.ts';
import type { HashJob, HashScope } from './hashWorker.ts';
import { firstNonZero, type RangeMismatch } from '../kernel/image/rangeChecker.ts';

export class BlockMapChecker {
  private readonly ranges: readonly MappedRange[];
  private readonly hasher: HashScope;
  /** checkZeros: the next range at or after `position`, and the stream position. */
  private zeroNext = 0;
  private position = 0;
  /** hashBlock: the next range not yet fully hashed, and how many were digested. */
  private hashNext = 0;
  private digested = 0;
  private readonly hashing = new Set<Promise<void>>();
  private failed: { error: unknown } | null = null;
  /** The first mismatch seen. */
  mismatch: RangeMismatch | null = null;

  constructor(ranges: readonly MappedRange[], hasher: HashScope) {
    this.ranges = ranges;
    this.hasher = hasher;
  }

  /** The next `chunk` of the raw image (stream order): its bytes outside every range must be zero. */
  checkZeros(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && this.mismatch === null) {
      const range = this.ranges[this.zeroNext];
      const pos = this.position + at;
      if (range !== undefined && pos >= range.offset + range.length) {
        this.zeroNext++;
        continue;
      }
      if (range === undefined || pos < range.offset) {
        const end = range === undefined ? chunk.length : Math.min(chunk.length, at + (range.offset - pos));
        const zeroEnd = firstNonZero(chunk, at, end);
        if (zeroEnd !== end) this.mismatch = { kind: 'unmapped', offset: this.position + zeroEnd };
        at = end;
        continue;
      }
      at = Math.min(chunk.length, at + (range.offset + range.length - pos));
    }
    this.position += chunk.length;
  }

  /** The next `length` bytes of the stream are passed by unseen (a zero frame holding no mapped byte). */
  skip(length: number): void {
    this.position += length;
  }

  /**
   * Hashes the mapped bytes of the block at raw offset `start` (blocks in order; other bytes of
   * `bytes` may be stale). Resolves once the worker is done reading `bytes` (the block may then
   * be reused); never rejects (a worker failure is thrown by complete).
   */
  hashBlock(start: number, bytes: Buffer): Promise<void> {
    const end = start + bytes.length;
    const jobs: HashJob[] = [];
    const ending: MappedRange[] = [];
    for (let i = this.hashNext; i < this.ranges.length; i++) {
      const range = this.ranges[i] as MappedRange;
      if (range.offset >= end) break;
      const rangeEnd = range.offset + range.length;
      const a = Math.max(start, range.offset);
      const b = Math.min(end, rangeEnd);
      if (b <= a) continue;
      const last = b === rangeEnd;
      jobs.push({ key: `range ${i}`, bytes: bytes.subarray(a - start, b - start), digest: last });
      if (last) {
        ending.push(range);
        this.hashNext = i + 1;
      }
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
