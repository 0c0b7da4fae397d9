import { describe, expect, it } from 'vitest';
import { explainMissing, headFromBacklog, sqlString, unionRanges, type ExplanationLayer } from '../../electron/courier/reconcile.ts';
import type { MissingRange } from '../../shared/courier.ts';
import { lossWords, reasonWords, reconcileVerdict } from '../../shared/courierVerdict.ts';
import { formatAgo as ago } from '../../shared/format.ts';

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

describe('reconcileVerdict', () => {
  const m = (from: number, to: number, reason: MissingRange['reason'], detail = ''): MissingRange => ({ from_seq: from, to_seq: to, count: to - from + 1, reason, detail });
  const now = Date.UTC(2025, 5, 1, 12, 0, 0);
  const pulled8MinAgo = now - 8 * 60_000;
  const base = { label: 'pi-07', duplicates: 0, lastPullMs: pulled8MinAgo, headBeyond: null, nowMs: now };

  it('never says complete without through which seq and as of which pull', () => {
    const v = reconcileVerdict({ ...base, missing: [], completeThrough: 60_000 });
    expect(v).toMatchObject({ status: 'complete', badge: 'complete', notYetPulled: 0 });
    expect(v.sentence).toBe('pi-07: complete through seq 60000, all the device had when pulled 8 min ago');
    expect(v.sentence).not.toMatch(/complete$/);
    expect(reconcileVerdict({ ...base, missing: [], completeThrough: 60_000, duplicates: 1 }).sentence).toBe(
      'pi-07: complete through seq 60000, all the device had when pulled 8 min ago; 1 duplicate awaiting merge',
    );
  });

  it('a device heard after the pull with more journaled: complete through the pull, the rest not yet pulled (about, from health)', () => {
    const v = reconcileVerdict({ ...base, missing: [], completeThrough: 60_000, headBeyond: { seq: 70_000, atMs: now - 30_000, source: 'health', records: 10_000 } });
    expect(v).toMatchObject({ status: 'not_yet_pulled', badge: 'complete through seq 60000', notYetPulled: 10_000, estimated: true });
    expect(v.sentence).toBe('pi-07: complete through seq 60000 (pulled 8 min ago); not yet pulled: about 10,000 records (the device was at about seq 70000 30 s ago)');
  });

  it('records the pull saw on the device but did not carry: an exact count, not "about"', () => {
    const v = reconcileVerdict({ ...base, missing: [m(4001, 4100, 'not_yet_pulled')], completeThrough: 4000 });
    expect(v).toMatchObject({ status: 'not_yet_pulled', badge: 'complete through seq 4000', notYetPulled: 100, estimated: false });
    expect(v.sentence).toBe('pi-07: complete through seq 4000 (pulled 8 min ago); not yet pulled: 100 records');
  });

  it('names up to three ranges per reason and counts beyond that; adds what is still on the device', () => {
    expect(reconcileVerdict({ ...base, missing: [m(1200, 1350, 'lost_on_device', 'retention')], completeThrough: 1199 }).sentence).toBe('pi-07: seq 1200-1350 missing (lost on device: retention)');
    const mixed = reconcileVerdict({ ...base, duplicates: 3, missing: [m(5, 5, 'quarantined'), m(9, 9, 'quarantined'), m(4001, 4100, 'not_yet_pulled')], completeThrough: 4 });
    expect(mixed).toMatchObject({ status: 'missing', badge: '102 missing', notYetPulled: 100 });
    expect(mixed.sentence).toBe('pi-07: seq 5, 9 missing (quarantined: refused by ClickHouse); seq 4001-4100 missing (not yet pulled); 3 duplicates awaiting merge');
    const retention = [m(2, 3, 'lost_on_device', 'retention'), m(5, 6, 'lost_on_device', 'retention'), m(8, 9, 'lost_on_device', 'retention'), m(11, 14, 'lost_on_device', 'retention')];
    expect(reconcileVerdict({ ...base, missing: retention, completeThrough: 1, headBeyond: { seq: 20, atMs: now - 5000, source: 'health', records: 6 } }).sentence).toBe(
      'pi-07: 10 seqs missing in 4 ranges between 2 and 14 (lost on device: retention); not yet pulled: about 6 records more (the device was at about seq 20 just now)',
    );
  });

  it('a replaced device\'s old journal: complete through the last seq the laptop held, the rest lost with the failed device', () => {
    const lost = m(1201, 1350, 'lost_on_device', lossWords('lost_with_device'));
    const v = reconcileVerdict({ ...base, missing: [lost], completeThrough: 1200 });
    expect(v).toMatchObject({ status: 'missing', badge: '150 missing', notYetPulled: 0 });
    expect(v.sentence).toBe('pi-07: complete through seq 1200; seq 1201-1350 missing (lost with the failed device)');
    // Other losses keep their words and their place.
    expect(reconcileVerdict({ ...base, missing: [m(7, 9, 'lost_on_device', 'retention'), lost], completeThrough: 6 }).sentence).toBe(
      'pi-07: complete through seq 6; seq 7-9 missing (lost on device: retention); seq 1201-1350 missing (lost with the failed device)',
    );
  });

  it('has words for every reason, and for how long ago', () => {
    expect(reasonWords({ reason: 'discarded', detail: 'bad firmware' })).toBe('discarded: bad firmware');
    expect(reasonWords({ reason: 'held_by_other_courier', detail: '' })).toBe('held by another courier');
    expect(reasonWords({ reason: 'unknown', detail: '' })).toBe('unknown');
    expect(reasonWords({ reason: 'not_yet_forwarded', detail: '' })).toBe('not yet forwarded');
    expect([ago(now - 3000, now), ago(now - 42_000, now), ago(now - 3 * 3600_000, now), ago(now - 72 * 3600_000, now)]).toEqual(['just now', '42 s ago', '3 h ago', '3 d ago']);
  });
});

describe('headFromBacklog', () => {
  it('is the device forwarded mark (or what retention dropped) plus the backlog a sample reports', () => {
    expect(headFromBacklog({ forwarded_reported_seq: 0, agent_first_seq: 1, agent_last_seq: 1000 }, 11_000)).toBe(11_000);
    expect(headFromBacklog({ forwarded_reported_seq: 800, agent_first_seq: 1, agent_last_seq: 1000 }, 200)).toBe(1000);
    // Retention dropped 1-499 (loss records): not backlog any more.
    expect(headFromBacklog({ forwarded_reported_seq: 0, agent_first_seq: 500, agent_last_seq: 1000 }, 501)).toBe(1000);
    // An empty journal (all dropped): the head as last heard.
    expect(headFromBacklog({ forwarded_reported_seq: 0, agent_first_seq: 0, agent_last_seq: 1000 }, 0)).toBe(1000);
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
