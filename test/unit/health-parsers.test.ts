import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cpuPercent,
  parseEmmcLifeTime,
  parseEmmcPreEol,
  parseLoadavg,
  parseMeminfo,
  parseMillidegrees,
  parseNvmeSmartLog,
  parseProcStatCpu,
  parseSysfsFlag,
  parseSystemctlShow,
  parseUptime,
  percentile,
} from '../../agent/health/procSysParsers.ts';

const fixture = (tree: string, path: string): string => readFileSync(join(import.meta.dirname, '../fixtures/pi-sys', tree, path), 'utf8');

describe('parsers for /proc and /sys in the Pi formats', () => {
  it('reads the aggregate cpu line of /proc/stat, leaving guest time out of the total', () => {
    expect(parseProcStatCpu(fixture('pi5-healthy', 'proc/stat'))).toEqual({
      busy: 184251 + 1203 + 61877 + 0 + 2310 + 0,
      total: 184251 + 1203 + 61877 + 4791130 + 5122 + 0 + 2310 + 0,
    });
    expect(parseProcStatCpu('cpu  10 0 10 80 0 0 0 0 5 5\n')).toEqual({ busy: 20, total: 100 });
    expect(parseProcStatCpu('cpu0 1 2 3 4\n')).toBeNull();
    expect(parseProcStatCpu('')).toBeNull();
  });

  it('computes CPU % from deltas, and unknown when no time passed or counters reset', () => {
    expect(cpuPercent({ busy: 100, total: 1000 }, { busy: 400, total: 1400 })).toBe(75);
    expect(cpuPercent({ busy: 100, total: 1000 }, { busy: 100, total: 1000 })).toBeNull();
    expect(cpuPercent({ busy: 100, total: 1000 }, { busy: 5, total: 50 })).toBeNull();
  });

  it('reads loadavg, uptime and meminfo (kB means KiB)', () => {
    expect(parseLoadavg(fixture('pi4-undervolt', 'proc/loadavg'))).toEqual([3.91, 3.72, 3.4]);
    expect(parseLoadavg('garbage')).toBeNull();
    expect(parseUptime(fixture('pi5-healthy', 'proc/uptime'))).toBe(50412.37);
    expect(parseUptime('')).toBeNull();
    expect(parseMeminfo(fixture('pi5-healthy', 'proc/meminfo'))).toEqual({ total: 8245312 * 1024, available: 7381216 * 1024 });
    // Kernels before 3.14 have no MemAvailable: unknown rather than a guess.
    expect(parseMeminfo('MemTotal:        3882700 kB\nMemFree:          181244 kB\n')).toBeNull();
  });

  it('reads millidegrees and sysfs flags', () => {
    expect(parseMillidegrees(fixture('pi5-healthy', 'sys/class/thermal/thermal_zone0/temp'))).toBe(52.35);
    expect(parseMillidegrees('-5000\n')).toBe(-5);
    expect(parseMillidegrees('')).toBeNull();
    expect(parseSysfsFlag(fixture('pi4-undervolt', 'sys/class/hwmon/hwmon1/in0_lcrit_alarm'))).toBe(true);
    expect(parseSysfsFlag('0\n')).toBe(false);
    expect(parseSysfsFlag('2\n')).toBeNull();
  });

  it('reads eMMC life_time and pre_eol_info as the kernel prints them', () => {
    expect(parseEmmcLifeTime(fixture('pi4-undervolt', 'sys/block/mmcblk0/device/life_time'))).toEqual({ a: 2, b: 3 });
    expect(parseEmmcLifeTime('0x0B 0x0a\n')).toEqual({ a: 11, b: 10 });
    expect(parseEmmcLifeTime('0x01\n')).toBeNull();
    expect(parseEmmcPreEol(fixture('pi5-healthy', 'sys/block/mmcblk0/device/pre_eol_info'))).toBe(1);
    expect(parseEmmcPreEol('0x03\n')).toBe(3);
    expect(parseEmmcPreEol('1')).toBeNull();
  });

  it('reads nvme smart-log JSON: Kelvin to °C, percent_used, media errors', () => {
    const smart = {
      critical_warning: 0, temperature: 314, avail_spare: 100, spare_thresh: 10, percent_used: 1,
      data_units_read: 2716432, media_errors: 0, num_err_log_entries: 0,
    };
    expect(parseNvmeSmartLog(JSON.stringify(smart))).toEqual({ critical_warning: 0, percentage_used: 1, temperature_c: 40.9, media_errors: 0 });
    // Newer nvme-cli wraps some fields; very large counters come as strings.
    expect(parseNvmeSmartLog(JSON.stringify({ ...smart, critical_warning: { value: 4 }, media_errors: '18446744073709551616', temperature: 0, percent_used: undefined, percentage_used: 7 })))
      .toEqual({ critical_warning: 4, percentage_used: 7, temperature_c: null, media_errors: 18446744073709551616 });
    expect(parseNvmeSmartLog('not json')).toBeNull();
    expect(parseNvmeSmartLog('{"temperature":300}')).toBeNull();
  });

  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 50)).toBeNull();
  });
});

describe('systemctl show of the agent unit', () => {
  it('reads the states, restarts, main pid and start time; no main process is null, not pid 0', () => {
    const running = parseSystemctlShow('LoadState=loaded\nActiveState=active\nSubState=running\nResult=success\nNRestarts=2\nMainPID=812\nExecMainStartTimestampMonotonic=5123456789\n');
    expect(running).toEqual({ loadState: 'loaded', activeState: 'active', subState: 'running', result: 'success', restarts: 2, mainPid: 812, startMonotonicUs: 5123456789 });
    const waiting = parseSystemctlShow('LoadState=loaded\nActiveState=activating\nSubState=auto-restart\nResult=signal\nNRestarts=1\nMainPID=0\nExecMainStartTimestampMonotonic=0\n');
    expect(waiting).toMatchObject({ activeState: 'activating', subState: 'auto-restart', result: 'signal', mainPid: null, startMonotonicUs: null });
    expect(parseSystemctlShow('LoadState=not-found\nActiveState=inactive\nSubState=dead\n')?.loadState).toBe('not-found');
    // Older systemd without NRestarts: unknown, not zero.
    expect(parseSystemctlShow('LoadState=loaded\nActiveState=failed\nSubState=failed\n')?.restarts).toBeNull();
    expect(parseSystemctlShow('Failed to connect to bus: No such file or directory')).toBeNull();
  });
});
