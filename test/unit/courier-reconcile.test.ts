import { describe, expect, it } from 'vitest';
import { explainMissing, reasonWords, sqlString, summarize, unionRanges, type ExplanationLayer } from '../../electron/courier/reconcile.ts';
import type { MissingRange } from '../../shared/courier.ts';

const r = (from: number, to: number, detail = '') => ({ from, to, detail });

describe('explainMissing', () => {
  const layers: ExplanationLayer[] = [
    { reason: 'not_yet_forwarded', ranges: [r(50, 59)] },
    { reason: 'lost_on_device', ranges: [r(1, 20, 'retention'), r(100, 200, 'retention')] },
    { reason: 'not_yet_pulled', ranges: [r(181, 400)] },
  ];

  it('gives each part of a missing range the first layer that covers it, the rest the fallback', () => {
    expect(explainMissing([{ from: 10, to: 30 }, { from: 55, to: 60 }, { from: 150, to: 250 }], layers, { reason: 'unknown', detail: '' })).toEqual([
      { from_seq: 10, to_seq: 20, count: 11, reason: 'lost_on_device', detail: 'retention' },
      { from_seq: 21, to_seq: 30, count: 10, reason: 'unknown', detail: '' },
      { from_seq: 55, to_seq: 59, count: 5, reason: 'not_yet_forwarded', detail: '' },
      { from_seq: 60, to_seq: 60, count: 1, reason: 'unknown', detail: '' },
      // 181-200 is both lost and above the watermark: the loss record wins (earlier layer).
      { from_seq: 150, to_seq: 200, count: 51, reason: 'lost_on_device', detail: 'retention' },
      { from_seq: 201, to_seq: 250, count: 50, reason: 'not_yet_pulled', detail: '' },
    ]);
  });

  it('joins neighbouring parts with the same reason, and keeps ranges apart when their words differ', () => {
    const split: ExplanationLayer[] = [{ reason: 'lost_on_device', ranges: [r(1, 5, 'retention'), r(6, 9, 'retention'), r(10, 12, 'corruption')] }];
    expect(explainMissing([{ from: 1, to: 12 }], split, { reason: 'unknown', detail: '' })).toEqual([
      { from_seq: 1, to_seq: 9, count: 9, reason: 'lost_on_device', detail: 'retention' },
      { from_seq: 10, to_seq: 12, count: 3, reason: 'lost_on_device', detail: 'corruption' },
    ]);
  });

  it('stays fast with tens of thousands of small ranges (interleaved retention drops)', () => {
    const missing = Array.from({ length: 50_000 }, (_, i) => ({ from: i * 5 + 2, to: i * 5 + 4 }));
    const loss: ExplanationLayer = { reason: 'lost_on_device', ranges: [r(1, 300_000, 'retention')] };
    const started = performance.now();
    const out = explainMissing(missing, [loss], { reason: 'unknown', detail: '' });
    expect(performance.now() - started).toBeLessThan(500);
    expect(out).toHaveLength(50_000);
    expect(out.every((m) => m.reason === 'lost_on_device')).toBe(true);
  });
});

describe('summarize', () => {
  const m = (from: number, to: number, reason: MissingRange['reason'], detail = ''): MissingRange => ({ from_seq: from, to_seq: to, count: to - from + 1, reason, detail });

  it('says complete, with duplicates awaiting merge when there are some', () => {
    expect(summarize('pi-07', [], 0)).toBe('pi-07: complete');
    expect(summarize('pi-07', [], 1)).toBe('pi-07: complete; 1 duplicate awaiting merge');
  });

  it('names up to three ranges per reason and counts beyond that', () => {
    expect(summarize('pi-07', [m(1200, 1350, 'lost_on_device', 'retention')], 0)).toBe('pi-07: seq 1200-1350 missing (lost on device: retention)');
    expect(summarize('pi-07', [m(5, 5, 'quarantined'), m(9, 9, 'quarantined'), m(4001, 4100, 'not_yet_pulled')], 3)).toBe(
      'pi-07: seq 5, 9 missing (quarantined: refused by ClickHouse); seq 4001-4100 missing (not yet pulled); 3 duplicates awaiting merge',
    );
    expect(summarize('pi-07', [m(2, 3, 'lost_on_device', 'retention'), m(5, 6, 'lost_on_device', 'retention'), m(8, 9, 'lost_on_device', 'retention'), m(11, 14, 'lost_on_device', 'retention')], 0)).toBe(
      'pi-07: 10 seqs missing in 4 ranges between 2 and 14 (lost on device: retention)',
    );
  });

  it('has words for every reason', () => {
    expect(reasonWords({ reason: 'discarded', detail: 'bad firmware' })).toBe('discarded: bad firmware');
    expect(reasonWords({ reason: 'held_by_other_courier', detail: '' })).toBe('held by another courier');
    expect(reasonWords({ reason: 'unknown', detail: '' })).toBe('unknown');
    expect(reasonWords({ reason: 'not_yet_forwarded', detail: '' })).toBe('not yet forwarded');
  });
});

describe('unionRanges and sqlString', () => {
  it('merges overlapping and touching ranges', () => {
    expect(unionRanges([{ from: 10, to: 20 }, { from: 1, to: 5 }, { from: 6, to: 8 }, { from: 15, to: 30 }])).toEqual([{ from: 1, to: 8 }, { from: 10, to: 30 }]);
  });

  it('quotes device-chosen ids so they cannot end the string', () => {
    expect(sqlString("pi-07")).toBe("'pi-07'");
    expect(sqlString("x' OR 1=1 --")).toBe("'x\\' OR 1=1 --'");
    expect(sqlString('a\\')).toBe("'a\\\\'");
  });
});
