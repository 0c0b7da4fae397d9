/**
 * The health sampler against fixture /proc and /sys trees in the real Pi formats, fake
 * vcgencmd and nvme scripts, the real journal and a real health.db.
 */
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENTS_KEPT_MAX, MINUTES_KEPT_MS, openHealthHistoryWriter, readHealthHistory } from '../../agent/health/healthHistory.ts';
import { createHealthSource } from '../../agent/health/healthSource.ts';
import type { HealthSourceOptions } from '../../agent/health/healthSource.ts';
import type { RunCommand } from '../../agent/health/runCommand.ts';
import { runCommand } from '../../agent/health/runCommand.ts';
import type { Journal } from '../../agent/journal/journalApi.ts';
import { openJournalForConfig } from '../../agent/journal/openJournal.ts';
import { AgentConfigSchema } from '../../shared/agentConfig.ts';
import type { AgentConfig } from '../../shared/agentConfig.ts';
import { HealthSampleSchema } from '../../shared/health.ts';
import type { HealthSample } from '../../shared/health.ts';
import type { IngestEvent } from '../../shared/journal.ts';
import { makeTempDir } from '../support/tempDir.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/pi-sys');
const MIN = 60_000;

type Rig = {
  root: string;
  config: AgentConfig;
  journal: Journal;
  clock: { ms: number };
  calls: string[];
  source(extra?: Partial<HealthSourceOptions>): ReturnType<typeof createHealthSource>;
  write(path: string, text: string): void;
};

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

function rig(tree: string, health: Partial<AgentConfig['health']> = {}): Rig {
  const tmp = makeTempDir('fieldkit-health-');
  const root = join(tmp.path, 'pi');
  cpSync(join(FIXTURES, tree), root, { recursive: true });
  const config = AgentConfigSchema.parse({
    device_id: 'pi-07',
    data_dir: join(tmp.path, 'data'),
    model_version: 'yolov8n-2026.01',
    health: {
      proc_root: join(root, 'proc'),
      sys_root: join(root, 'sys'),
      vcgencmd: join(root, 'bin/vcgencmd'),
      nvme: join(root, 'bin/nvme'),
      interval_ms: 100,
      ...health,
    },
  });
  const journal = openJournalForConfig(config);
  const clock = { ms: Date.UTC(2026, 0, 15, 2, 14, 5) };
  const calls: string[] = [];
  // The real runner, counting what it is asked to run.
  const counting: RunCommand = (file, args, options) => {
    calls.push([file.split('/').pop(), ...args].join(' '));
    return runCommand(file, args, options);
  };
  const sources: ReturnType<typeof createHealthSource>[] = [];
  cleanups.push(() => {
    for (const s of sources) s.close();
    journal.close();
    tmp.remove();
  });
  return {
    root,
    config,
    journal,
    clock,
    calls,
    source(extra = {}) {
      const s = createHealthSource({ config, journal, agentVersion: '1.4.2', now: () => clock.ms, runCommand: counting, ...extra });
      sources.push(s);
      return s;
    },
    write(path, text) {
      writeFileSync(join(root, path), text);
    },
  };
}

/** /proc/stat with the given aggregate busy and idle ticks (user and idle columns). */
function procStat(user: number, idle: number): string {
  return `cpu  ${user} 0 0 ${idle} 0 0 0 0 0 0\ncpu0 ${user} 0 0 ${idle} 0 0 0 0 0 0\nintr 1 0\nctxt 1\nbtime 1767225600\nprocesses 1\nprocs_running 1\nprocs_blocked 0\n`;
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('health sampler on fixture trees', () => {
  it('reads a healthy Pi 5 in full: load, memory, temperature, throttling, PMIC, eMMC, NVMe, disks, versions', async () => {
    const r = rig('pi5-healthy');
    const s = HealthSampleSchema.parse(await r.source().sample());
    expect(s).toMatchObject({
      at_ms: r.clock.ms,
      device_id: 'pi-07',
      uptime_s: 50412.37,
      load: [0.42, 0.37, 0.31],
      mem_total_bytes: 8245312 * 1024,
      mem_available_bytes: 7381216 * 1024,
      temp_c: 52.35,
      throttling: { raw: 0, now: { under_voltage: false, throttled: false }, since_boot: { under_voltage: false } },
      volt_alarm: false,
      emmc: { device: 'mmcblk0', life_time_a: 1, life_time_b: 1, pre_eol_info: 1 },
      nvme: { device: 'nvme0', critical_warning: 0, percentage_used: 1, temperature_c: 40.9, media_errors: 0 },
      journal: { records: 0, backlog_records: 0, ingest_per_s: 0 },
      uplink: { state: 'off', last_forward_ms: null, last_error: null },
      agent_version: '1.4.2',
      model_version: 'yolov8n-2026.01',
      inference: null,
    });
    // A static /proc/stat: no ticks passed, so CPU is unknown, not 0 %.
    expect(s.cpu_pct).toBeNull();
    expect(s.disks.map((d) => d.path)).toEqual([r.config.data_dir, '/']);
    for (const d of s.disks) {
      expect(d.total_bytes).toBeGreaterThan(0);
      expect(d.free_bytes).toBeLessThanOrEqual(d.total_bytes);
    }
    expect(r.calls).toEqual(['vcgencmd get_throttled', 'nvme smart-log -o json /dev/nvme0']);
  });

  it('reads a Pi 4 on a weak supply: under-voltage and throttling now and since boot, PMIC alarm, no NVMe', async () => {
    const r = rig('pi4-undervolt');
    const s = await r.source().sample();
    expect(s.throttling).toEqual({
      raw: 0x50005,
      now: { under_voltage: true, arm_freq_capped: false, throttled: true, soft_temp_limit: false },
      since_boot: { under_voltage: true, arm_freq_capped: false, throttled: true, soft_temp_limit: false },
    });
    expect(s.volt_alarm).toBe(true);
    expect(s.emmc).toEqual({ device: 'mmcblk0', life_time_a: 2, life_time_b: 3, pre_eol_info: 1 });
    expect(s.nvme).toBeNull();
    expect(s.load).toEqual([3.91, 3.72, 3.4]);
    // No nvme0 in /sys: nvme-cli is never started.
    expect(r.calls).toEqual(['vcgencmd get_throttled']);
  });

  it('sees a changed fixture in the next sample: temperature, CPU ticks, the PMIC alarm, vcgencmd', async () => {
    const r = rig('pi5-healthy');
    const source = r.source();
    r.write('proc/stat', procStat(1000, 9000));
    await source.sample();
    r.write('sys/class/thermal/thermal_zone0/temp', '86000\n');
    r.write('proc/stat', procStat(1300, 9100));
    r.write('sys/class/hwmon/hwmon2/in0_lcrit_alarm', '1\n');
    r.write('bin/vcgencmd', '#!/bin/sh\necho "throttled=0xe0008"\n');
    chmodSync(join(r.root, 'bin/vcgencmd'), 0o755);
    r.clock.ms += 1000;
    const s = await source.sample();
    expect(s.temp_c).toBe(86);
    expect(s.cpu_pct).toBe(75);
    expect(s.volt_alarm).toBe(true);
    expect(s.throttling?.now).toEqual({ under_voltage: false, arm_freq_capped: false, throttled: false, soft_temp_limit: true });
    expect(s.throttling?.since_boot).toEqual({ under_voltage: false, arm_freq_capped: true, throttled: true, soft_temp_limit: true });
  });

  it('reports unknown, not zero, for what a board lacks: no thermal zone, no hwmon, an SD card, no vcgencmd', async () => {
    const r = rig('pi4-undervolt', { vcgencmd: '/nonexistent/vcgencmd' });
    rmSync(join(r.root, 'sys/class/thermal'), { recursive: true });
    rmSync(join(r.root, 'sys/class/hwmon'), { recursive: true });
    rmSync(join(r.root, 'sys/block/mmcblk0/device/life_time'));
    rmSync(join(r.root, 'sys/block/mmcblk0/device/pre_eol_info'));
    const source = r.source();
    const s = await source.sample();
    expect(s).toMatchObject({ temp_c: null, volt_alarm: null, emmc: null, throttling: null, nvme: null });
    expect(HealthSampleSchema.safeParse(s).success).toBe(true);
    // A missing vcgencmd is looked for once, not spawned every second.
    r.clock.ms += 10 * MIN;
    await source.sample();
    expect(r.calls).toEqual(['vcgencmd get_throttled']);
  });

  it('retries a failing vcgencmd once a minute, and reads NVMe at most once a minute', async () => {
    const r = rig('pi5-healthy');
    r.write('bin/vcgencmd', '#!/bin/sh\necho "VCHI initialization failed" >&2\nexit 1\n');
    const source = r.source();
    expect((await source.sample()).throttling).toBeNull();
    for (let i = 0; i < 5; i++) {
      r.clock.ms += 1000;
      expect((await source.sample()).nvme?.percentage_used).toBe(1);
    }
    expect(r.calls.filter((c) => c.startsWith('vcgencmd'))).toHaveLength(1);
    expect(r.calls.filter((c) => c.startsWith('nvme'))).toHaveLength(1);
    r.write('bin/vcgencmd', '#!/bin/sh\necho "throttled=0x0"\n');
    r.write('bin/nvme', '#!/bin/sh\necho \'{"critical_warning":4,"temperature":350,"percent_used":101,"media_errors":3}\'\n');
    r.clock.ms += MIN;
    const later = await source.sample();
    expect(later.throttling?.raw).toBe(0);
    expect(r.calls.filter((c) => c.startsWith('nvme'))).toHaveLength(2);
    // The refresh runs behind the cached value; the next sample shows it.
    let s = await source.sample();
    for (let i = 0; i < 100 && s.nvme?.critical_warning !== 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      s = await source.sample();
    }
    expect(s.nvme).toEqual({ device: 'nvme0', critical_warning: 4, percentage_used: 101, temperature_c: 76.9, media_errors: 3 });
  });

  it('reports journal backlog, ingest rate and inference p50/p95 over the last minute', async () => {
    const r = rig('pi5-healthy');
    const source = r.source();
    const recvMs = (): number => r.clock.ms;
    r.journal.append([{ priority: 3, kind: 'metrics', payload: { cpu: 1 } }], recvMs());
    expect((await source.sample()).inference).toBeNull();
    r.clock.ms += 2000;
    // 100 inferences with latencies 1..100 ms, among other events.
    const events = Array.from({ length: 100 }, (_, i) => ({ priority: 3 as const, kind: 'inference', payload: { latency_ms: i + 1, label: 'person' } }));
    r.journal.append(events, recvMs());
    r.journal.append([{ priority: 2, kind: 'state', payload: { latency_ms: 9999 } }], recvMs());
    r.journal.ackForwarded('uplink', 21, recvMs());
    const s = await source.sample();
    expect(s.inference).toEqual({ count: 100, p50_ms: 50, p95_ms: 95 });
    expect(s.journal).toMatchObject({ records: 102, backlog_records: 102 - 21, ingest_per_s: 50.5 });
    // A minute later those inferences have aged out of the window.
    r.clock.ms += 61_000;
    expect((await source.sample()).inference).toBeNull();
  });

  it('keeps latency cheap under a flood: only the newest 500 records of a second are scanned', async () => {
    const r = rig('pi5-healthy');
    const source = r.source();
    await source.sample();
    // 3000 records arrive in one second; every 10th is an inference whose latency says where it was.
    const flood = Array.from({ length: 3000 }, (_, i): IngestEvent => (i % 10 === 0
      ? { priority: 3 as const, kind: 'inference', payload: { latency_ms: i < 2500 ? 1000 : 5 } }
      : { priority: 3 as const, kind: 'metrics', payload: { v: i } }));
    r.journal.append(flood, r.clock.ms);
    r.clock.ms += 1000;
    const s = await source.sample();
    expect(s.inference).toEqual({ count: 50, p50_ms: 5, p95_ms: 5 });
    expect(s.journal.ingest_per_s).toBe(3000);
  });

  it('runs on this machine\'s own /proc and /sys (not a Pi): real kernel formats, unknown where a Pi has files', async () => {
    const r = rig('pi5-healthy', { proc_root: '/proc', sys_root: '/sys', vcgencmd: null, nvme: null });
    const source = r.source();
    const first = HealthSampleSchema.parse(await source.sample());
    expect(first.mem_total_bytes).toBeGreaterThan(first.mem_available_bytes);
    expect(first.uptime_s).toBeGreaterThan(0);
    expect(first.load.every((n) => n >= 0)).toBe(true);
    expect(first.throttling).toBeNull();
    // Burn a little CPU so the next delta has ticks in it.
    const until = Date.now() + 150;
    while (Date.now() < until) Math.sqrt(Math.random());
    const second = await source.sample();
    expect(second.cpu_pct).not.toBeNull();
    expect(second.cpu_pct).toBeGreaterThan(0);
  });

  it('passes the uplink status through', async () => {
    const r = rig('pi5-healthy');
    const s = await r.source({ uplinkState: () => ({ state: 'backoff', last_forward_ms: 5, last_error: 'ECONNREFUSED' }) }).sample();
    expect(s.uplink).toEqual({ state: 'backoff', last_forward_ms: 5, last_error: 'ECONNREFUSED' });
  });
});

describe('health history (the daemon records, any process reads)', () => {
  it('keeps per-minute rows and notable events in health.db, readable from another process', async () => {
    const r = rig('pi4-undervolt');
    r.clock.ms = Date.UTC(2026, 0, 15, 2, 14, 0);
    const samples: HealthSample[] = [];
    const daemon = r.source({ record: true });
    const stopWatching = daemon.watch(100, (s) => samples.push(s));
    await waitFor('samples in the first minute', () => samples.length >= 3);
    r.write('sys/class/thermal/thermal_zone0/temp', '86500\n');
    // The recorder samples on its own timer: wait until it, not only this watcher, saw the
    // hot reading (its temp_high event) before the clock moves to the next minute.
    const reader = createHealthSource({ config: r.config, journal: r.journal, agentVersion: '1.4.2' });
    await waitFor('the recorder to see the hot sample', () => reader.history(0).events.some((e) => e.kind === 'temp_high'));
    r.clock.ms += MIN;
    await waitFor('a sample in the next minute', () => samples.some((s) => s.at_ms >= r.clock.ms));
    // Another reader sees the finished minute while the daemon still runs.
    const history = await waitFor('the finished minute', () => {
      const h = reader.history(0);
      return h.minutes.length > 0 ? h : undefined;
    });
    expect(history.minutes[0]).toMatchObject({ minute_ms: Date.UTC(2026, 0, 15, 2, 14, 0), throttled_raw_or: 0x50005, backlog_records_max: 0 });
    expect(history.minutes[0]?.temp_c_max).toBeGreaterThanOrEqual(86.5);
    expect(history.events.map((e) => e.kind)).toEqual(['agent_start', 'under_voltage', 'throttled', 'temp_high']);
    expect(history.events[0]?.detail).toBe('fieldkit-agent 1.4.2 started');
    stopWatching();
    daemon.close();

    // Closing flushes the minute in progress; a separate OS process sees everything.
    const script = `
      import { readHealthHistory } from ${JSON.stringify(join(import.meta.dirname, '../../agent/health/healthHistory.ts'))};
      process.stdout.write(JSON.stringify(readHealthHistory(${JSON.stringify(join(r.config.data_dir, 'health.db'))}, ${String(Date.UTC(2026, 0, 15, 2, 15, 0))})));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
    const fromOtherProcess = JSON.parse(stdout) as ReturnType<typeof reader.history>;
    expect(fromOtherProcess.minutes.map((m) => m.minute_ms)).toEqual([Date.UTC(2026, 0, 15, 2, 15, 0)]);
    expect(fromOtherProcess.events).toEqual([]);
    expect(readdirSync(r.config.data_dir)).toContain('health.db');
  });

  it('stays bounded: minutes older than 14 days and events beyond the cap are pruned', () => {
    const tmp = makeTempDir('fieldkit-health-db-');
    cleanups.push(() => { tmp.remove(); });
    const path = join(tmp.path, 'health.db');
    const writer = openHealthHistoryWriter(path);
    const t0 = Date.UTC(2026, 0, 1);
    const minute = { cpu_pct_avg: 1, temp_c_max: 50, mem_available_min_bytes: 1, disk_free_min_bytes: 1, throttled_raw_or: 0, backlog_records_max: 0, inference_p95_ms: null };
    writer.writeMinute({ minute_ms: t0, ...minute });
    writer.writeMinute({ minute_ms: t0 + MINUTES_KEPT_MS, ...minute });
    for (let i = 0; i < EVENTS_KEPT_MAX + 5; i++) writer.addEvent({ at_ms: t0 + MINUTES_KEPT_MS + i, kind: 'throttled', detail: String(i) });
    writer.prune(t0 + MINUTES_KEPT_MS + 1);
    writer.close();
    const history = readHealthHistory(path, 0);
    expect(history.minutes.map((m) => m.minute_ms)).toEqual([t0 + MINUTES_KEPT_MS]);
    expect(history.events).toHaveLength(EVENTS_KEPT_MAX);
    expect(history.events[0]?.detail).toBe('5');
  });

  it('reads an empty history before the daemon ever ran, without creating the file', () => {
    const r = rig('pi5-healthy');
    expect(r.source().history(0)).toEqual({ minutes: [], events: [] });
    expect(readdirSync(r.config.data_dir)).not.toContain('health.db');
  });
});

describe('sampling cost', () => {
  it('costs under 5 ms of CPU per sample beside its one spawn (vcgencmd)', async () => {
    const r = rig('pi5-healthy');
    const source = r.source();
    r.journal.append(Array.from({ length: 500 }, (_, i) => ({ priority: 3 as const, kind: i % 2 ? 'inference' : 'metrics', payload: { latency_ms: i % 90, pad: 'x'.repeat(150) } })), r.clock.ms);
    await source.sample();
    const n = 100;
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      // 200 events/s arriving between samples, half of them inferences to scan.
      r.journal.append(Array.from({ length: 200 }, (_, k) => ({ priority: 3 as const, kind: k % 2 ? 'inference' : 'metrics', payload: { latency_ms: k % 90, pad: 'x'.repeat(150) } })), r.clock.ms);
      r.clock.ms += 1000;
      const s = await source.sample();
      expect(s.throttling?.raw).toBe(0);
    }
    const total = process.cpuUsage(before);
    // Appends are included in `total`; measure them alone to subtract.
    const appendsBefore = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      r.journal.append(Array.from({ length: 200 }, (_, k) => ({ priority: 3 as const, kind: 'metrics', payload: { latency_ms: k % 90, pad: 'x'.repeat(150) } })), r.clock.ms);
    }
    const appends = process.cpuUsage(appendsBefore);
    // The one process a sample spawns (vcgencmd), alone, in the same run: spawning's cost
    // moves with the machine's load, the sampler's own work should not.
    const spawnsBefore = process.cpuUsage();
    for (let i = 0; i < n; i++) await runCommand(r.config.health.vcgencmd ?? '', ['get_throttled'], { timeoutMs: 5000 });
    const spawns = process.cpuUsage(spawnsBefore);
    const perSampleMs = (total.user + total.system - appends.user - appends.system) / 1000 / n;
    const perSpawnMs = (spawns.user + spawns.system) / 1000 / n;
    console.log(`health sample: ${perSampleMs.toFixed(2)} ms CPU each, of which spawning vcgencmd ~${perSpawnMs.toFixed(2)} ms (fixture tree, 200 new journal records scanned)`);
    // Its own work (reading /proc and /sys, the journal gauge, the service check) stays under
    // 5 ms a sample: half a percent of a core at 1 Hz. Measured apart from the spawn, whose
    // cost grows with the load of a shared test machine. (3.5–4.4 ms seen on a loaded 2-core
    // box: worth profiling.)
    expect(perSampleMs - perSpawnMs).toBeLessThan(5);
  });
});
