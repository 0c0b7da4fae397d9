import { describe, expect, it } from 'vitest';
import { createProgressMeter } from '../../electron/kernel/jobs/progressMeter.ts';
import { formatBytes, formatDuration, formatRate } from '../../shared/format.ts';

describe('progress meter', () => {
  it('measures the rate over the recent window and derives the ETA from it', () => {
    const meter = createProgressMeter();
    meter.update({ phase: 'reading', bytesDone: 0, bytesTotal: 100e6 }, 0);
    meter.update({ phase: 'reading', bytesDone: 10e6, bytesTotal: 100e6 }, 1000);
    const p = meter.update({ phase: 'reading', bytesDone: 20e6, bytesTotal: 100e6 }, 2000);
    expect(p.rateBytesPerSec).toBeCloseTo(10e6);
    expect(p.etaSeconds).toBe(8);
  });

  it('forgets old samples, so a slowdown shows within seconds', () => {
    const meter = createProgressMeter();
    meter.update({ phase: 'w', bytesDone: 0, bytesTotal: null }, 0);
    meter.update({ phase: 'w', bytesDone: 100e6, bytesTotal: null }, 1000); // fast start
    for (let t = 2000; t <= 6000; t += 1000) meter.update({ phase: 'w', bytesDone: 100e6 + (t - 1000) * 1000, bytesTotal: null }, t);
    const p = meter.update({ phase: 'w', bytesDone: 100e6 + 6000e3, bytesTotal: null }, 7000);
    expect(p.rateBytesPerSec).toBeCloseTo(1e6, -3);
    expect(p.etaSeconds).toBeNull(); // unknown total: no ETA rather than a made-up one
  });

  it('starts a new measurement when the phase changes', () => {
    const meter = createProgressMeter();
    meter.update({ phase: 'writing', bytesDone: 0, bytesTotal: 10 }, 0);
    meter.update({ phase: 'writing', bytesDone: 10, bytesTotal: 10 }, 1000);
    const p = meter.update({ phase: 'verifying', bytesDone: 0, bytesTotal: 10 }, 1100);
    expect(p.rateBytesPerSec).toBeNull();
  });
});

describe('formatting', () => {
  it('uses decimal units like drive labels', () => {
    expect(formatBytes(32e9)).toBe('32.0 GB');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatRate(42.34e6)).toBe('42.3 MB/s');
    expect(formatRate(null)).toBe('—');
  });

  it('formats ETAs as m:ss and h:mm:ss', () => {
    expect(formatDuration(65)).toBe('1:05');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(null)).toBe('—');
  });
});
