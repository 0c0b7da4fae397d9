import { describe, expect, it } from 'vitest';
import { planZeroFrames, storedFrames } from '../../electron/kernel/image/zeroFrames.ts';

const mib = 1 << 20;
const range = (offset: number, length: number) => ({ offset, length, sha256: '0'.repeat(64) });

describe('zero frames', () => {
  it('gives each gap of at least 4 MiB a frame, the one before the first range and the one at the end included', () => {
    const ranges = [range(8 * mib, mib), range(10 * mib, mib), range(20 * mib, mib)];
    expect(planZeroFrames(ranges, 32 * mib)).toEqual([
      { offset: 0, length: 8 * mib },
      { offset: 11 * mib, length: 9 * mib },
      { offset: 21 * mib, length: 11 * mib },
    ]);
  });

  it('keeps only the longest gaps when there are more than the manifest may list, in order', () => {
    const ranges = [range(5 * mib, mib), range(16 * mib, mib), range(22 * mib, mib)];
    expect(planZeroFrames(ranges, 23 * mib, 4 * mib, 2)).toEqual([
      { offset: 0, length: 5 * mib },
      { offset: 6 * mib, length: 10 * mib },
    ]);
  });

  it('lists the stored frames: the data frames between the zero frames, and the last', () => {
    const payload = {
      compression: 'zstd' as const,
      compressed_size: 1000,
      raw_size: 64 * mib,
      sha256: 'a'.repeat(64),
      raw_sha256: 'b'.repeat(64),
      zero_frames: [
        { raw_offset: 0, raw_length: 8 * mib, stored_offset: 0, stored_length: 20 },
        { raw_offset: 16 * mib, raw_length: 8 * mib, stored_offset: 500, stored_length: 20 },
      ],
    };
    expect(storedFrames(payload)).toEqual([
      { offset: 0, length: 20, zero: true },
      { offset: 20, length: 480, zero: false },
      { offset: 500, length: 20, zero: true },
      { offset: 520, length: 480, zero: false },
    ]);
  });
});
