import { describe, expect, it } from 'vitest';
import { defaultHealthThresholds, type DeviceHealthView } from '../../shared/fleetHealth.ts';
import type { HealthSample } from '../../shared/health.ts';
import { decodeThrottled } from '../../shared/throttling.ts';
import { countByStatus, filterBySite, sitesOf, sortWorstFirst } from '../../renderer/src/health/fleetOrder.ts';
import { createFleetStore } from '../../renderer/src/health/fleetStore.ts';
import { chartData, chartSpecs } from '../../renderer/src/health/healthCharts.ts';
import { describeEvent, formatBacklog, formatLastSeen, fullestDisk, powerWords } from '../../renderer/src/health/healthText.ts';
import { createSampleWindow } from '../../renderer/src/health/sampleWindow.ts';
import { formFromThresholds, isThresholdsDirty, parseThresholdsForm } from '../../renderer/src/settings/healthThresholdsForm.ts';

/** The Health screen's pure logic, run in Node (the screen itself is covered by test/e2e/health.e2e.test.ts). */
function sample(atMs: number, patch: Partial<HealthSample> = {}): HealthSample {
  return {
    at_ms: atMs,
    device_id: 'pi-1',
    uptime_s: 100,
    cpu_pct: 12,
    load: [0.1, 0.1, 0.1],
    mem_total_bytes: 4e9,
    mem_available_bytes: 3e9,
    disks: [
      { path: '/var/lib/fieldkit', total_bytes: 100, free_bytes: 40 },
      { path: '/', total_bytes: 100, free_bytes: 5 },
    ],
    temp_c: 50,
    throttling: null,
    volt_alarm: null,
    emmc: null,
    nvme: null,
    journal: { records: 10, bytes: 100, backlog_records: 3, ingest_per_s: 20 },
    uplink: { state: 'off', last_forward_ms: null, last_error: null },
    agent_version: '1.0.0',
    model_version: null,
    inference: { count: 5, p50_ms: 11, p95_ms: 30 },
    ...patch,
  };
}

function view(deviceId: string, status: DeviceHealthView['status'], name = deviceId, site = 'north'): DeviceHealthView {
  return { deviceId, deviceName: name, site, status, sample: null, lastSampleMs: null, alerts: [], linkError: null };
}

describe('power and throttling in words', () => {
  it('says what is happening now first, then what happened since boot', () => {
    // 0x50005: under-voltage now (bit 0), throttled now (bit 2), both since boot (16, 18).
    expect(powerWords({ throttling: decodeThrottled(0x50005), volt_alarm: null })).toEqual({ words: ['under-voltage now', 'throttled now'], tone: 'now' });
    // 0x50000: only the since-boot bits.
    expect(powerWords({ throttling: decodeThrottled(0x50000), volt_alarm: false })).toEqual({
      words: ['under-voltage since boot', 'was throttled since boot'],
      tone: 'past',
    });
    expect(powerWords({ throttling: decodeThrottled(0x40001), volt_alarm: null }).words).toEqual(['under-voltage now', 'was throttled since boot']);
  });

  it('takes the PMIC alarm as under-voltage now when the firmware word is unknown, and says unknown rather than fine', () => {
    expect(powerWords({ throttling: null, volt_alarm: true })).toEqual({ words: ['under-voltage now'], tone: 'now' });
    expect(powerWords({ throttling: null, volt_alarm: null }).tone).toBe('unknown');
    expect(powerWords({ throttling: decodeThrottled(0), volt_alarm: null })).toEqual({ words: ['no throttling or under-voltage'], tone: 'ok' });
  });
});

describe('tile figures', () => {
  it('shows the fullest disk, since that one stops the agent', () => {
    expect(fullestDisk(sample(0).disks)).toEqual({ path: '/', usedPercent: 95 });
    expect(fullestDisk([])).toBeNull();
  });

  it('counts seconds for last seen (stale is 10 s), then minutes and hours', () => {
    expect(formatLastSeen(10_000, 13_400)).toBe('3 s ago');
    expect(formatLastSeen(0, 125_000)).toBe('2 min ago');
    expect(formatLastSeen(0, 3 * 3600_000)).toBe('3 h ago');
    expect(formatLastSeen(null, 0)).toBe('never');
    expect(formatBacklog(1204)).toBe('1,204 to forward');
    expect(formatBacklog(0)).toBe('none to forward');
  });

  it('words history events with their clock time', () => {
    const at = new Date(2026, 2, 4, 2, 14).getTime();
    expect(describeEvent({ kind: 'under_voltage', at_ms: at }, at + 3600_000)).toBe('Under-voltage occurred at 02:14');
    expect(describeEvent({ kind: 'under_voltage', at_ms: at }, at + 3 * 86_400_000)).toMatch(/^Under-voltage occurred at .*4.*02:14$/);
  });
});

describe('fleet order', () => {
  it('puts the worst first and keeps names in order within a status', () => {
    const views = [view('a', 'ok', 'pi-10'), view('b', 'stale', 'pi-2'), view('c', 'critical', 'pi-9'), view('d', 'ok', 'pi-2'), view('e', 'warning', 'pi-1'), view('f', 'unreachable', 'pi-3')];
    expect(sortWorstFirst(views).map((v) => v.deviceName)).toEqual(['pi-9', 'pi-3', 'pi-2', 'pi-1', 'pi-2', 'pi-10']);
    expect(sortWorstFirst(views).map((v) => v.status)).toEqual(['critical', 'unreachable', 'stale', 'warning', 'ok', 'ok']);
  });

  it('filters by site and counts statuses', () => {
    const views = [view('a', 'ok', 'a', 'north'), view('b', 'critical', 'b', 'south'), view('c', 'ok', 'c', 'south')];
    expect(sitesOf(views)).toEqual(['north', 'south']);
    expect(filterBySite(views, 'south').map((v) => v.deviceId)).toEqual(['b', 'c']);
    expect(filterBySite(views, null)).toHaveLength(3);
    expect(countByStatus(views)).toMatchObject({ ok: 2, critical: 1, warning: 0 });
  });
});

describe('fleet store', () => {
  it('publishes many changes once per frame and keeps unchanged views as the same objects', () => {
    const frames: (() => void)[] = [];
    const store = createFleetStore((flush) => frames.push(flush));
    let published = 0;
    store.subscribe(() => published++);
    const a = view('a', 'ok');
    const b = view('b', 'ok');
    store.replaceAll([a, b]);
    expect(published).toBe(1);
    for (let i = 0; i < 50; i++) store.apply([{ ...b, status: 'warning' }]);
    store.apply([{ ...b, status: 'critical' }]);
    expect(frames).toHaveLength(1);
    expect(published).toBe(1);
    expect(store.get('b')?.status).toBe('critical');
    frames.shift()?.();
    expect(published).toBe(2);
    expect(store.snapshot().views.get('a')).toBe(a);
    expect(store.snapshot().views.get('b')?.status).toBe('critical');
    expect(store.snapshot().loaded).toBe(true);
  });

  it('drops changes gathered before a fresh fleet answer', () => {
    const frames: (() => void)[] = [];
    const store = createFleetStore((flush) => frames.push(flush));
    store.apply([view('a', 'critical')]);
    store.replaceAll([view('a', 'ok')]);
    frames.shift()?.();
    expect(store.snapshot().views.get('a')?.status).toBe('ok');
  });
});

describe('sample window', () => {
  it('keeps fifteen minutes in time order and drops repeats', () => {
    const window = createSampleWindow();
    window.fill([sample(3000), sample(1000), sample(2000)]);
    expect(window.push(sample(2000))).toBe(false);
    expect(window.push(sample(4000))).toBe(true);
    expect(window.samples().map((s) => s.at_ms)).toEqual([1000, 2000, 3000, 4000]);
    for (let t = 5000; t <= 20 * 60_000; t += 1000) window.push(sample(t));
    const kept = window.samples();
    expect(kept[0]?.at_ms).toBe(5 * 60_000);
    expect(kept).toHaveLength(15 * 60 + 1);
    expect(window.latest()?.at_ms).toBe(20 * 60_000);
  });

  it("turns samples into uPlot's columns, threshold lines included", () => {
    const temp = chartSpecs.find((spec) => spec.id === 'temp');
    if (temp === undefined) throw new Error('no temperature chart');
    const [xs, soc, warning, critical] = chartData(temp, [sample(1000, { temp_c: 70 }), sample(2000, { temp_c: null })], defaultHealthThresholds);
    expect([...xs]).toEqual([1, 2]);
    expect(soc).toEqual([70, null]);
    expect(warning).toEqual([80, 80]);
    expect(critical).toEqual([85, 85]);
    expect(chartSpecs.map((spec) => spec.id)).toEqual(['cpu', 'temp', 'memory', 'disk', 'ingest', 'inference', 'backlog']);
  });
});

describe('health thresholds form', () => {
  it('accepts what the contract accepts', () => {
    const form = { ...formFromThresholds(defaultHealthThresholds), tempWarningC: '75', tempCriticalC: '82,5' };
    expect(isThresholdsDirty(form, defaultHealthThresholds)).toBe(true);
    expect(parseThresholdsForm(form)).toEqual({ ok: true, thresholds: { ...defaultHealthThresholds, tempWarningC: 75, tempCriticalC: 82.5 } });
  });

  it('names each wrong field, with the limit, and keeps warning below critical', () => {
    const form = { ...formFromThresholds(defaultHealthThresholds), tempWarningC: '20', emmcPreEol: '2.5', staleSeconds: 'soon' };
    const parsed = parseThresholdsForm(form);
    expect(parsed).toEqual({ ok: false, errors: { tempWarningC: 'Must be at least 30.', emmcPreEol: 'Must be a whole number.', staleSeconds: 'Enter a number.' } });
    const crossed = parseThresholdsForm({ ...formFromThresholds(defaultHealthThresholds), tempWarningC: '90' });
    expect(crossed).toEqual({ ok: false, errors: { tempCriticalC: 'Must be above the warning temperature (90 °C).' } });
  });
});
