import { describe, expect, it } from 'vitest';
import { defaultHealthThresholds, type DeviceHealthHistory } from '../../shared/fleetHealth.ts';
import type { HealthSample } from '../../shared/health.ts';
import { axisWidth, formatWithUnit, lonePoints, splitGaps, timeDomain } from '../../renderer/src/health/chartGeometry.ts';
import { chartData, chartSpecs, historyData } from '../../renderer/src/health/healthCharts.ts';

/** The health charts' geometry: what is drawn where, before uPlot draws it (the drawing is in test/e2e/health.e2e.test.ts). */
function sample(atMs: number, tempC: number | null): HealthSample {
  return {
    at_ms: atMs,
    device_id: 'pi-1',
    uptime_s: 100,
    cpu_pct: 12,
    load: [0.1, 0.1, 0.1],
    mem_total_bytes: 4e9,
    mem_available_bytes: 3e9,
    disks: [],
    temp_c: tempC,
    throttling: null,
    volt_alarm: null,
    emmc: null,
    nvme: null,
    journal: { records: 10, bytes: 100, backlog_records: 3, ingest_per_s: 20 },
    uplink: { state: 'off', last_forward_ms: null, last_error: null },
    agent_version: '1.0.0',
    model_version: null,
    inference: null,
  };
}

const tempSpec = chartSpecs.find((spec) => spec.id === 'temp');
if (tempSpec === undefined) throw new Error('no temperature chart');

describe('gaps in samples', () => {
  it('breaks the line where samples are missing instead of drawing a ramp across them', () => {
    // 1, 2, 3 s, then the link drops for 40 s, then 43, 44 s.
    const samples = [1000, 2000, 3000, 43_000, 44_000].map((at, i) => sample(at, 50 + i));
    const [xs, soc, warning] = chartData(tempSpec, samples, defaultHealthThresholds);
    expect([...xs]).toEqual([1, 2, 3, 4.5, 43, 44]);
    // A null between 3 s and 43 s: uPlot stops the line at 3 s and starts it again at 43 s.
    expect(soc).toEqual([50, 51, 52, null, 53, 54]);
    expect(warning).toEqual([80, 80, 80, null, 80, 80]);
  });

  it('leaves samples a second apart (and a little late) as one line', () => {
    const samples = [1000, 2000, 3400, 4000].map((at) => sample(at, 50));
    const [xs, soc] = chartData(tempSpec, samples, defaultHealthThresholds);
    expect([...xs]).toEqual([1, 2, 3.4, 4]);
    expect(soc).toEqual([50, 50, 50, 50]);
  });

  it('splits every gap, with any number of series', () => {
    const split = splitGaps({ xs: [0, 10, 20, 21], ys: [[1, 2, 3, 4], [5, null, 7, 8]] }, 3);
    expect(split.xs).toEqual([0, 1.5, 10, 11.5, 20, 21]);
    expect(split.ys).toEqual([
      [1, null, 2, null, 3, 4],
      [5, null, null, null, 7, 8],
    ]);
  });

  it('marks the points that have no neighbour, so they are drawn as dots rather than not at all', () => {
    expect(lonePoints([1, null, 2, 3, null, 4])).toEqual([0, 5]);
    expect(lonePoints([1, 2, 3])).toBeNull();
    expect(lonePoints([7])).toEqual([0]);
  });

  it('breaks the pulled history where minutes are missing', () => {
    const minute = (m: number, temp: number, throttled = 0): DeviceHealthHistory['minutes'][number] => ({
      minute_ms: m * 60_000,
      cpu_pct_avg: 10,
      temp_c_max: temp,
      mem_available_min_bytes: null,
      disk_free_min_bytes: null,
      throttled_raw_or: throttled,
      backlog_records_max: 0,
      inference_p95_ms: null,
    });
    const history: DeviceHealthHistory = { deviceId: 'pi-1', minutes: [minute(12, 60), minute(10, 55), minute(11, 58, 4)], events: [], pulledAtMs: 1 };
    const [xs, temp, cpu, throttled] = historyData(history);
    expect([...xs]).toEqual([600, 660, 720]);
    expect(temp).toEqual([55, 58, 60]);
    expect(cpu).toEqual([10, 10, 10]);
    expect(throttled).toEqual([null, 58, null]);
    const gap = historyData({ ...history, minutes: [minute(10, 55), minute(30, 70)] });
    expect(gap[1]).toEqual([55, null, 70]);
  });
});

describe('time domain', () => {
  it('shows one pulled minute in the middle of a readable window, not on an axis spanning years', () => {
    const at = Date.UTC(2026, 11, 7, 21, 0) / 1000;
    expect(timeDomain(at, at, 15 * 60, 'centre')).toEqual([at - 450, at + 450]);
  });

  it('keeps a live chart at least a minute wide with the newest sample at the right edge', () => {
    expect(timeDomain(100, 110, 60, 'end')).toEqual([50, 110]);
    expect(timeDomain(100, 400, 60, 'end')).toEqual([100, 400]);
  });

  it('has no domain without data', () => {
    expect(timeDomain(null, null, 60, 'centre')).toBeNull();
    expect(timeDomain(Number.NaN, 3, 60, 'centre')).toBeNull();
  });
});

describe('axes', () => {
  it('carry the unit on every label', () => {
    expect(formatWithUnit(86, '°C')).toBe('86 °C');
    expect(formatWithUnit(12.34, '%')).toBe('12.3 %');
    expect(formatWithUnit(1500, 'records')).toBe('1,500 records');
    expect(formatWithUnit(48_000, 'records/s')).toBe('48 k records/s');
    expect(formatWithUnit(2_250_000, 'records')).toBe('2.3 M records');
  });

  it('are as wide as their widest label, so none is cut', () => {
    const measure = (label: string): number => label.length * 6;
    expect(axisWidth(['0 %', '5 %'], measure)).toBe(40);
    expect(axisWidth(['0 %', '50 %', '100 %'], measure)).toBe(5 * 6 + 16);
    expect(axisWidth(['0 records', '1,500 records'], measure)).toBe(13 * 6 + 16);
  });
});
