/** The written ranges of a plain image, with their SHA-256 from the hash worker, for the read-back. */
import type { HashJob } from '../writer/hashWorker.ts';
import type { WrittenRange } from '../writer/readBack.ts';

/** Zero detection granularity when skipping: the block map's 1 MiB. */
const zeroCheckBytes = 1 << 20;
/** Read-back hashes cover at most this much each, so a difference is located to within it. */
const rangeCapBytes = 64 << 20;

const zeros = Buffer.alloc(zeroCheckBytes);

/** Non-zero runs of bytes[0, length) at zeroCheckBytes granularity: [from, to) offsets into bytes. */
export function nonZeroPieces(bytes: Buffer): [number, number][] {
  const pieces: [number, number][] = [];
  for (let at = 0; at < bytes.length; at += zeroCheckBytes) {
    const end = Math.min(bytes.length, at + zeroCheckBytes);
    if (bytes.subarray(at, end).equals(zeros.subarray(0, end - at))) continue;
    const last = pieces.at(-1);
    if (last !== undefined && last[1] === at) last[1] = end;
    else pieces.push([at, end]);
  }
  return pieces;
}

/**
 * Written ranges with their SHA-256, built in stream order; contiguous pieces merge up to
 * rangeCapBytes. The hashing is the worker's: `take` hands over the jobs gathered since the
 * last call, and a range's `sha256` is filled in when its digest comes back.
 */
export class RangeRecorder {
  readonly ranges: WrittenRange[] = [];
  private current: { offset: number; length: number; key: string } | null = null;
  private jobs: HashJob[] = [];
  private ending: WrittenRange[] = [];

  add(offset: number, bytes: Buffer): void {
    const current = this.current;
    if (current !== null && current.offset + current.length === offset && current.length + bytes.length <= rangeCapBytes) {
      this.jobs.push({ key: current.key, bytes });
      current.length += bytes.length;
      return;
    }
    this.finish();
    this.current = { offset, length: bytes.length, key: `written ${this.ranges.length + this.ending.length}` };
    this.jobs.push({ key: this.current.key, bytes });
  }

  finish(): void {
    if (this.current === null) return;
    const range = { offset: this.current.offset, length: this.current.length, sha256: '' };
    this.ranges.push(range);
    this.ending.push(range);
    this.jobs.push({ key: this.current.key, digest: true });
    this.current = null;
  }

  /** The jobs since the last call, and a function that files their digests (in order) under the ranges they end. */
  take(): { jobs: HashJob[]; file: (digests: readonly string[]) => void } {
    const { jobs, ending } = this;
    this.jobs = [];
    this.ending = [];
    return {
      jobs,
      file: (digests) => {
        for (const [i, range] of ending.entries()) range.sha256 = digests[i] ?? '';
      },
    };
  }
}
