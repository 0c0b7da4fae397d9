import { describe, expect, it } from 'vitest';
import { planWrites } from '../../../electron/flash/writePlan.ts';
import { BlockMapSchema, ImageManifestSchema, type BlockMap } from '../../../shared/image.ts';

const sha = 'a'.repeat(64);
const kib = 1024;

function manifestOf(block_map: BlockMap, raw_size = 1024 * kib): { payload: { raw_size: number }; block_map: BlockMap } {
  return { payload: { raw_size }, block_map };
}

describe('planWrites', () => {
  const map: BlockMap = {
    block_size: 64 * kib,
    ranges: [
      { offset: 0, length: 64 * kib, sha256: sha },
      { offset: 256 * kib, length: 128 * kib, sha256: sha },
    ],
    free: [
      { offset: 128 * kib, length: 64 * kib },
      { offset: 512 * kib, length: 512 * kib },
    ],
  };

  it('writes everything but the free ranges, and reads back data by hash and the zeros between as zeros', () => {
    const plan = planWrites(manifestOf(map) as never);
    expect(plan.write).toEqual([
      { offset: 0, length: 128 * kib },
      { offset: 192 * kib, length: 320 * kib },
    ]);
    expect(plan.skipped).toEqual(map.free);
    expect(plan.writeBytes).toBe(448 * kib);
    expect(plan.readBack).toEqual([
      { offset: 0, length: 64 * kib, sha256: sha },
      { offset: 64 * kib, length: 64 * kib, sha256: null },
      { offset: 192 * kib, length: 64 * kib, sha256: null },
      { offset: 256 * kib, length: 128 * kib, sha256: sha },
      { offset: 384 * kib, length: 128 * kib, sha256: null },
    ]);
  });

  it('writes every byte with writeAll, and every zero of a version-1 map (which lists no free space)', () => {
    for (const plan of [planWrites(manifestOf(map) as never, true), planWrites(manifestOf({ block_size: map.block_size, ranges: map.ranges }) as never)]) {
      expect(plan.write).toEqual([{ offset: 0, length: 1024 * kib }]);
      expect(plan.skipped).toEqual([]);
      expect(plan.readBack.filter((r) => r.sha256 === null).reduce((sum, r) => sum + r.length, 0)).toBe(1024 * kib - 192 * kib);
    }
  });
});

describe('the block map schema', () => {
  it('refuses free ranges that overlap data or each other', () => {
    expect(BlockMapSchema.safeParse(map({ free: [{ offset: 32 * kib, length: 64 * kib }] })).success).toBe(false);
    expect(BlockMapSchema.safeParse(map({ free: [{ offset: 128 * kib, length: 64 * kib }, { offset: 160 * kib, length: 64 * kib }] })).success).toBe(false);
    expect(BlockMapSchema.safeParse(map({ free: [{ offset: 64 * kib, length: 64 * kib }] })).success).toBe(true);
  });

  it('ties free ranges to manifest_version 2: a version-1 reader cannot mistake what it may skip', () => {
    const base = {
      product: 'p',
      version: '1',
      sequence: 1,
      issued_at: '2026-01-01T00:00:00Z',
      expires_at: '2027-01-01T00:00:00Z',
      boards: ['pi5'],
      payload: { compression: 'none', compressed_size: 1, raw_size: 1024 * kib, sha256: sha, raw_sha256: sha },
      layout: { table: 'mbr', partitions: [{ index: 1, start: 0, size: 1, type: '83', role: 'data' }] },
    };
    expect(ImageManifestSchema.safeParse({ ...base, manifest_version: 2, block_map: map({ free: [] }) }).success).toBe(true);
    expect(ImageManifestSchema.safeParse({ ...base, manifest_version: 1, block_map: map({}) }).success).toBe(true);
    expect(ImageManifestSchema.safeParse({ ...base, manifest_version: 1, block_map: map({ free: [] }) }).success).toBe(false);
    expect(ImageManifestSchema.safeParse({ ...base, manifest_version: 2, block_map: map({}) }).success).toBe(false);
  });

  function map(extra: { free?: { offset: number; length: number }[] }): unknown {
    return { block_size: 64 * kib, ranges: [{ offset: 0, length: 64 * kib, sha256: sha }], ...extra };
  }
});
