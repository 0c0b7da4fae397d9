/**
 * Checks a raw image stream against its block map as it flows past: each mapped range's
 * SHA-256, and that every byte outside the ranges is zero (a sparse write leaves those bytes
 * alone, so a block map that calls data "zero" would make a card differ from the image).
 */
import { createHash, type Hash } from 'node:crypto';
import type { MappedRange } from '../../../shared/image.ts';

export type RangeMismatch = { kind: 'range'; range: MappedRange } | { kind: 'unmapped'; offset: number };

export class RangeChecker {
  private readonly ranges: readonly MappedRange[];
  private next = 0;
  private current: Hash | null = null;
  private position = 0;
  /** The first mismatch seen; later bytes are not looked at. */
  mismatch: RangeMismatch | null = null;

  constructor(ranges: readonly MappedRange[]) {
    this.ranges = ranges;
  }

  update(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && this.mismatch === null) {
      const range = this.ranges[this.next];
      const pos = this.position + at;
      if (range === undefined || pos < range.offset) {
        const end = range === undefined ? chunk.length : Math.min(chunk.length, at + (range.offset - pos));
        const zeroEnd = firstNonZero(chunk, at, end);
        if (zeroEnd !== end) this.mismatch = { kind: 'unmapped', offset: this.position + zeroEnd };
        at = end;
        continue;
      }
      this.current ??= createHash('sha256');
      const end = Math.min(chunk.length, at + (range.offset + range.length - pos));
      this.current.update(chunk.subarray(at, end));
      at = end;
      if (this.position + at === range.offset + range.length) {
        if (this.current.digest('hex') !== range.sha256) this.mismatch = { kind: 'range', range };
        this.current = null;
        this.next++;
      }
    }
    this.position += chunk.length;
  }

  /** True when the stream covered every range and nothing mismatched. */
  complete(): boolean {
    return this.mismatch === null && this.next === this.ranges.length;
  }
}

const zeros = Buffer.alloc(1 << 20);

/** The first non-zero byte in chunk[from, to), or `to`; memcmp against zeros, byte by byte only to locate a hit. */
export function firstNonZero(chunk: Buffer, from: number, to: number): number {
  for (let at = from; at < to; at += zeros.length) {
    const end = Math.min(to, at + zeros.length);
    if (chunk.subarray(at, end).equals(zeros.subarray(0, end - at))) continue;
    for (let i = at; i < end; i++) if (chunk[i] !== 0) return i;
  }
  return to;
}
