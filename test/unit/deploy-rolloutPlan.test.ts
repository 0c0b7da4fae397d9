import { describe, expect, it } from 'vitest';
import { judgeBatch, planBatches, seededShuffle } from '../../electron/deploy/rolloutPlan.ts';
import { batchCounts, formatBatchSizes, parseBatchSizes } from '../../shared/rolloutBatches.ts';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `dev_${String(i + 1).padStart(6, '0')}`);

describe('batchCounts', () => {
  it('runs a canary, then a count, then a percentage of all devices repeating', () => {
    // 20% of 40 = 8 each after 1 and 5: 1, 5, 8, 8, 8, 8, 2
    expect(batchCounts([1, 5, '20%'], 40)).toEqual([1, 5, 8, 8, 8, 8, 2]);
  });
  it('rounds a percentage up and never below one device', () => {
    expect(batchCounts(['50%'], 5)).toEqual([3, 2]);
    expect(batchCounts(['1%'], 7)).toEqual(Array(7).fill(1));
    expect(batchCounts([1, '50%'], 5)).toEqual([1, 3, 1]);
  });
  it('is not fooled by float error (10% of 30 is 3, not 4)', () => {
    expect(batchCounts(['10%'], 30)).toEqual(Array(10).fill(3));
  });
  it('never takes more than remain, and takes everything with no sizes', () => {
    expect(batchCounts([10], 3)).toEqual([3]);
    expect(batchCounts([], 4)).toEqual([4]);
    expect(batchCounts([1, 5], 0)).toEqual([]);
  });
});

describe('planBatches', () => {
  it('keeps the given order and covers every device exactly once', () => {
    const devices = ids(12);
    const plan = planBatches(devices, [1, 5, '20%'], 'given', 7);
    expect(plan.map((b) => b.length)).toEqual([1, 5, 3, 3]);
    expect(plan.flat()).toEqual(devices);
  });
  it('shuffles deterministically from the seed, so a resumed rollout keeps its plan', () => {
    const devices = ids(20);
    const a = planBatches(devices, [1, '25%'], 'shuffle', 12345);
    const b = planBatches(devices, [1, '25%'], 'shuffle', 12345);
    const c = planBatches(devices, [1, '25%'], 'shuffle', 54321);
    expect(a).toEqual(b);
    expect(a.flat()).not.toEqual(devices);
    expect(c.flat()).not.toEqual(a.flat());
    expect([...a.flat()].sort()).toEqual(devices);
  });
  it('picks every device as canary for some seed (the shuffle is not stuck)', () => {
    const devices = ids(5);
    const canaries = new Set(Array.from({ length: 200 }, (_, seed) => seededShuffle(devices, seed)[0]));
    expect(canaries.size).toBe(5);
  });
});

describe('judgeBatch', () => {
  it('stops on any failure at 0%, naming the batch and the devices', () => {
    const verdict = judgeBatch(0, [{ name: 'pi-01', status: 'rolled-back' }], 0);
    expect(verdict.stop).toBe(true);
    expect(verdict.failedDevices).toEqual(['pi-01']);
    expect(verdict.stopReason).toContain('batch 1 (the canary)');
    expect(verdict.stopReason).toContain('pi-01');
  });
  it('counts failed, rolled back and refused, not updated or unchanged', () => {
    const verdict = judgeBatch(
      2,
      [
        { name: 'a', status: 'updated' },
        { name: 'b', status: 'unchanged' },
        { name: 'c', status: 'refused' },
        { name: 'd', status: 'failed' },
      ],
      49,
    );
    expect(verdict.failedPercent).toBe(50);
    expect(verdict.stop).toBe(true);
    expect(verdict.stopReason).toMatch(/^batch 3: 2 of 4 devices failed \(50%, the limit is 49%\): c, d\.$/);
  });
  it('lets a batch at exactly the limit through', () => {
    const verdict = judgeBatch(1, [{ name: 'a', status: 'updated' }, { name: 'b', status: 'failed' }], 50);
    expect(verdict.stop).toBe(false);
    expect(verdict.stopReason).toBeNull();
    expect(judgeBatch(1, [{ name: 'a', status: 'updated' }], 0).stop).toBe(false);
  });
});

describe('parseBatchSizes', () => {
  it('reads what a technician types, with or without brackets and quotes', () => {
    expect(parseBatchSizes('1, 5, 20%')).toEqual({ ok: true, value: [1, 5, '20%'] });
    expect(parseBatchSizes('[1, 5, "20%"]')).toEqual({ ok: true, value: [1, 5, '20%'] });
    expect(parseBatchSizes('1,50%')).toEqual({ ok: true, value: [1, '50%'] });
    expect(formatBatchSizes([1, 5, '20%'])).toBe('1, 5, 20%');
  });
  it('refuses zero, negative, fractional counts, over 100% and words, saying what a size is', () => {
    for (const bad of ['0', '1, -2', '1.5', '150%', 'canary', '']) {
      const result = parseBatchSizes(bad);
      expect(result.ok, bad).toBe(false);
      if (!result.ok) {
        expect(result.error.code).toBe('BAD_REQUEST');
        expect(result.error.hint.length).toBeGreaterThan(10);
      }
    }
  });
});
