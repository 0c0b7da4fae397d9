import { describe, expect, it } from 'vitest';
import type { HealthSample } from '../../shared/health.ts';
import { decodeThrottled } from '../../shared/throttling.ts';
import { createMinuteAccumulator, detectHealthEvents, initialConditionState } from '../../agent/health/healthTimeline.ts';

function sample(at: number, patch: Partial<HealthSample> = {}): HealthSample {
  return {
    at_ms: at,
    device_id: 'pi-07',
    uptime_s: 100,
    cpu_pct: 10,
    load: [0.1, 0.1, 0.1],
    mem_total_bytes: 8e9,
    mem_available_bytes: 6e9,
    disks: [{ path: '/', total_bytes: 100e9, free_bytes: 50e9 }],
    temp_c: 50,
    throttling: decodeThrottled(0),
    volt_alarm: false,
    emmc: null,
    nvme: null,
    journal: { records: 0, bytes: 0, backlog_records: 0, ingest_per_s: 0 },
    uplink: { state: 'off', last_forward_ms: null, last_error: null },
    agent_version: '1.0.0',
    model_version: null,
    inference: null,
    ...patch,
  };
}

const MIN = 60_000;

describe('per-minute history', () => {
  it('averages CPU, keeps the worst temperature, memory, disk, backlog and p95, and ORs the throttling word', () => {
    const acc = createMinuteAccumulator();
    expect(acc.add(sample(10 * MIN + 1000, { cpu_pct: 10, temp_c: 60, mem_available_bytes: 5e9 }))).toBeNull();
    expect(acc.add(sample(10 * MIN + 2000, { cpu_pct: 30, temp_c: 71.5, throttling: decodeThrottled(0x50005) }))).toBeNull();
    expect(acc.add(sample(10 * MIN + 3000, {
      cpu_pct: null, temp_c: 65, throttling: decodeThrottled(0x20002),
      disks: [{ path: '/', total_bytes: 100e9, free_bytes: 4e9 }, { path: '/data', total_bytes: 10e9, free_bytes: 3e9 }],
      journal: { records: 9, bytes: 9, backlog_records: 42, ingest_per_s: 1 },
      inference: { count: 3, p50_ms: 10, p95_ms: 31 },
    }))).toBeNull();
    const finished = acc.add(sample(11 * MIN + 500, { cpu_pct: 99 }));
    expect(finished).toEqual({
      minute_ms: 10 * MIN,
      cpu_pct_avg: 20,
      temp_c_max: 71.5,
      mem_available_min_bytes: 5e9,
      disk_free_min_bytes: 3e9,
      throttled_raw_or: 0x70007,
      backlog_records_max: 42,
      inference_p95_ms: 31,
    });
    expect(acc.current()).toMatchObject({ minute_ms: 11 * MIN, cpu_pct_avg: 99 });
  });

  it('says unknown for a minute without readings', () => {
    const acc = createMinuteAccumulator();
    expect(acc.current()).toBeNull();
    acc.add(sample(0, { cpu_pct: null, temp_c: null, throttling: null, disks: [] }));
    expect(acc.current()).toMatchObject({ cpu_pct_avg: null, temp_c_max: null, throttled_raw_or: null, disk_free_min_bytes: null });
  });
});

describe('notable health events fire on a change, not on every tick', () => {
  it('reports under-voltage once when it starts, and again only after it cleared', () => {
    const state = initialConditionState();
    expect(detectHealthEvents(state, sample(1, { throttling: decodeThrottled(0) }))).toEqual([]);
    const first = detectHealthEvents(state, sample(2, { throttling: decodeThrottled(0x50005) }));
    expect(first.map((e) => e.kind)).toEqual(['under_voltage', 'throttled']);
    expect(first[0]?.detail).toContain('under-voltage now');
    expect(detectHealthEvents(state, sample(3, { throttling: decodeThrottled(0x50005) }))).toEqual([]);
    expect(detectHealthEvents(state, sample(4, { throttling: decodeThrottled(0x50000) }))).toEqual([]);
    expect(detectHealthEvents(state, sample(5, { throttling: decodeThrottled(0x50001) })).map((e) => e.kind)).toEqual(['under_voltage']);
  });

  it('reports under-voltage that happened before the agent started (since-boot bit only)', () => {
    const events = detectHealthEvents(initialConditionState(), sample(1, { throttling: decodeThrottled(0x10000) }));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'under_voltage' });
    expect(events[0]?.detail).toContain('since boot');
  });

  it('reports frequency capping, the soft limit and the PMIC alarm', () => {
    const state = initialConditionState();
    expect(detectHealthEvents(state, sample(1, { throttling: decodeThrottled(0xa000a) })).map((e) => e.kind)).toEqual(['freq_capped', 'soft_temp_limit']);
    expect(detectHealthEvents(state, sample(2, { volt_alarm: true })).map((e) => e.kind)).toEqual(['under_voltage']);
    expect(detectHealthEvents(state, sample(3, { volt_alarm: true }))).toEqual([]);
  });

  it('reports temperature at 80 °C with hysteresis', () => {
    const state = initialConditionState();
    expect(detectHealthEvents(state, sample(1, { temp_c: 79.9 }))).toEqual([]);
    expect(detectHealthEvents(state, sample(2, { temp_c: 80 })).map((e) => e.kind)).toEqual(['temp_high']);
    expect(detectHealthEvents(state, sample(3, { temp_c: 78 }))).toEqual([]);
    expect(detectHealthEvents(state, sample(4, { temp_c: 86 }))).toEqual([]);
    expect(detectHealthEvents(state, sample(5, { temp_c: 74 }))).toEqual([]);
    expect(detectHealthEvents(state, sample(6, { temp_c: 81 })).map((e) => e.kind)).toEqual(['temp_high']);
  });

  it('reports a disk below 10 % free, per disk', () => {
    const state = initialConditionState();
    const disks = (rootFree: number, dataFree: number): HealthSample['disks'] => [
      { path: '/', total_bytes: 100, free_bytes: rootFree },
      { path: '/var/lib/fieldkit-agent', total_bytes: 100, free_bytes: dataFree },
    ];
    expect(detectHealthEvents(state, sample(1, { disks: disks(50, 50) }))).toEqual([]);
    const low = detectHealthEvents(state, sample(2, { disks: disks(50, 9) }));
    expect(low).toHaveLength(1);
    expect(low[0]?.detail).toContain('/var/lib/fieldkit-agent: 9.0 % free');
    expect(detectHealthEvents(state, sample(3, { disks: disks(8, 9) })).map((e) => e.detail)).toEqual(['/: 8.0 % free (< 10 %)']);
    expect(detectHealthEvents(state, sample(4, { disks: disks(8, 9) }))).toEqual([]);
  });

  it('reports eMMC pre-EOL warning and urgent levels, and NVMe critical warnings', () => {
    const state = initialConditionState();
    const emmc = (pre: number): HealthSample['emmc'] => ({ device: 'mmcblk0', life_time_a: 9, life_time_b: 9, pre_eol_info: pre });
    expect(detectHealthEvents(state, sample(1, { emmc: emmc(1) }))).toEqual([]);
    expect(detectHealthEvents(state, sample(2, { emmc: emmc(2) })).map((e) => e.detail)).toEqual([expect.stringContaining('pre-EOL warning')]);
    expect(detectHealthEvents(state, sample(3, { emmc: emmc(2) }))).toEqual([]);
    expect(detectHealthEvents(state, sample(4, { emmc: emmc(3) })).map((e) => e.detail)).toEqual([expect.stringContaining('pre-EOL urgent')]);
    const nvme = (w: number): HealthSample['nvme'] => ({ device: 'nvme0', critical_warning: w, percentage_used: 99, temperature_c: 40, media_errors: 0 });
    expect(detectHealthEvents(state, sample(5, { nvme: nvme(0) }))).toEqual([]);
    expect(detectHealthEvents(state, sample(6, { nvme: nvme(4) })).map((e) => e.kind)).toEqual(['nvme_warning']);
    expect(detectHealthEvents(state, sample(7, { nvme: nvme(4) }))).toEqual([]);
  });
});

describe('one under-voltage story', () => {
  it('does not repeat under-voltage when the PMIC alarm and the firmware word agree', () => {
    const state = initialConditionState();
    const events = detectHealthEvents(state, sample(1, { throttling: decodeThrottled(0x50005), volt_alarm: true }));
    expect(events.map((e) => e.kind)).toEqual(['under_voltage', 'throttled']);
    expect(detectHealthEvents(state, sample(2, { throttling: decodeThrottled(0x50005), volt_alarm: true }))).toEqual([]);
  });
});
