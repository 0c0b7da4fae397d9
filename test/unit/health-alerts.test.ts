import { describe, expect, it } from 'vitest';
import { defaultHealthThresholds, HealthAlertSchema, type HealthAlert, type HealthThresholds } from '../../shared/fleetHealth.ts';
import type { AgentService, HealthSample } from '../../shared/health.ts';
import { backlogGrowing, evaluateAlerts, statusOf, statusRank, type AlertInput, type BacklogPoint } from '../../shared/healthAlerts.ts';
import { decodeThrottled } from '../../shared/throttling.ts';

const NOW = Date.UTC(2026, 0, 15, 2, 14, 0);
const MIN = 60_000;

function sample(patch: Partial<HealthSample> = {}): HealthSample {
  return {
    at_ms: NOW,
    device_id: 'pi-07',
    uptime_s: 3600,
    cpu_pct: 20,
    load: [0.5, 0.4, 0.3],
    mem_total_bytes: 8e9,
    mem_available_bytes: 6e9,
    disks: [{ path: '/', total_bytes: 64e9, free_bytes: 40e9 }],
    temp_c: 55,
    throttling: decodeThrottled(0),
    volt_alarm: false,
    emmc: null,
    nvme: null,
    journal: { records: 1000, bytes: 1e6, backlog_records: 0, ingest_per_s: 20 },
    uplink: { state: 'off', last_forward_ms: null, last_error: null },
    agent_version: '1.4.2',
    model_version: 'yolov8n-2026.01',
    inference: null,
    service: runningService(),
    ...patch,
  };
}

/** A daemon under systemd that runs and answers. */
function runningService(patch: Partial<AgentService> = {}): AgentService {
  return {
    manager: 'systemd',
    state: 'running',
    detail: 'active/running',
    pid: 812,
    process_stopped: false,
    started_ms: NOW - 3_000_000,
    restarts: 0,
    recent_crashes: 0,
    answered_ms: NOW - 400,
    silent_s: 0,
    last_commit_ms: NOW - 900,
    journal_writable: true,
    journal_error: null,
    ...patch,
  };
}

function alerts(patch: Partial<HealthSample> = {}, extra: Partial<AlertInput> = {}): HealthAlert[] {
  const result = evaluateAlerts({ sample: sample(patch), lastSampleMs: NOW - 500, backlog: [], thresholds: defaultHealthThresholds, nowMs: NOW, previous: [], ...extra });
  for (const a of result) expect(HealthAlertSchema.parse(a)).toEqual(a);
  return result;
}

const codes = (list: HealthAlert[]) => list.map((a) => a.code);

describe('health alerts', () => {
  it('raises nothing for a healthy Pi, and calls it ok', () => {
    const list = alerts();
    expect(list).toEqual([]);
    expect(statusOf(list, { link: 'up', hasSample: true })).toBe('ok');
  });

  it('warns at 80 °C and is critical at 85 °C, with the numbers and what to do', () => {
    expect(alerts({ temp_c: 79.9 })).toEqual([]);
    const warm = alerts({ temp_c: 80 });
    expect(codes(warm)).toEqual(['temp-warning']);
    expect(warm[0]?.severity).toBe('warning');
    const hot = alerts({ temp_c: 86 });
    expect(codes(hot)).toEqual(['temp-critical']);
    expect(hot[0]?.title).toBe('86 °C — critical');
    expect(hot[0]?.explanation).toContain('86 °C');
    expect(hot[0]?.action).toMatch(/fan|heatsink/);
    expect(statusOf(hot, { link: 'up', hasSample: true })).toBe('critical');
  });

  it('follows edited thresholds', () => {
    const t: HealthThresholds = { ...defaultHealthThresholds, tempWarningC: 60, tempCriticalC: 70 };
    expect(codes(alerts({ temp_c: 65 }, { thresholds: t }))).toEqual(['temp-warning']);
    expect(codes(alerts({ temp_c: 71 }, { thresholds: t }))).toEqual(['temp-critical']);
  });

  it('reads 0x50005 as under-voltage and throttling now, and tells to use the official supply', () => {
    const list = alerts({ throttling: decodeThrottled(0x50005) });
    expect(codes(list)).toEqual(['under-voltage-now', 'throttled-now']);
    const uv = list[0];
    expect(uv?.severity).toBe('critical');
    expect(uv?.title).toBe('Under-voltage now');
    expect(uv?.explanation).toContain('0x50005');
    expect(uv?.action).toContain('27 W');
    expect(uv?.action).toMatch(/cable/);
    expect(list[1]?.title).toBe('Throttled now');
  });

  it('reads 0x50000 as under-voltage and throttling since boot only', () => {
    const list = alerts({ throttling: decodeThrottled(0x50000) });
    expect(codes(list)).toEqual(['under-voltage-since-boot', 'throttled-since-boot']);
    expect(list.map((a) => a.title)).toEqual(['Under-voltage since boot', 'Was throttled since boot']);
    expect(list.every((a) => a.severity === 'warning')).toBe(true);
  });

  it('names each throttling condition by its documented bit', () => {
    expect(alerts({ throttling: decodeThrottled(0x2) })[0]?.title).toBe('ARM frequency capped now');
    expect(alerts({ throttling: decodeThrottled(0x8) })[0]?.title).toBe('Soft temperature limit active now');
    expect(alerts({ throttling: decodeThrottled(0x20000) })[0]?.title).toBe('Had its ARM frequency capped since boot');
    expect(alerts({ throttling: decodeThrottled(0x80000) })[0]?.title).toBe('Reached the soft temperature limit since boot');
    // Now and since boot for the same condition: said once, as now.
    expect(codes(alerts({ throttling: decodeThrottled(0x40004) }))).toEqual(['throttled-now']);
  });

  it('takes the PMIC voltage alarm as under-voltage now, even without vcgencmd', () => {
    const list = alerts({ throttling: null, volt_alarm: true });
    expect(codes(list)).toEqual(['under-voltage-now']);
    expect(list[0]?.explanation).toContain('PMIC');
  });

  it('raises one disk alert per mount over the limit', () => {
    const list = alerts({
      disks: [
        { path: '/', total_bytes: 100e9, free_bytes: 9e9 },
        { path: '/data', total_bytes: 100e9, free_bytes: 1e9 },
        { path: '/boot/firmware', total_bytes: 512e6, free_bytes: 400e6 },
      ],
    });
    expect(list.map((a) => [a.title, a.severity])).toEqual([
      ['/data 99% full', 'critical'],
      ['/ 91% full', 'warning'],
    ]);
    expect(list[1]?.action).toMatch(/Pull the journal/);
  });

  it('flags eMMC wear from pre_eol_info 2 and NVMe wear or critical warnings', () => {
    const emmc = alerts({ emmc: { device: 'mmcblk0', life_time_a: 2, life_time_b: 3, pre_eol_info: 2 } });
    expect(codes(emmc)).toEqual(['emmc-wear']);
    expect(emmc[0]?.explanation).toContain('20-30%');
    expect(alerts({ emmc: { device: 'mmcblk0', life_time_a: 1, life_time_b: 1, pre_eol_info: 1 } })).toEqual([]);
    expect(alerts({ emmc: { device: 'mmcblk0', life_time_a: 11, life_time_b: 11, pre_eol_info: 3 } })[0]?.severity).toBe('critical');
    const nvme = alerts({ nvme: { device: 'nvme0', critical_warning: 0x5, percentage_used: 80, temperature_c: 45, media_errors: 0 } });
    expect(codes(nvme)).toEqual(['nvme-critical-warning', 'nvme-wear']);
    expect(nvme[0]?.explanation).toContain('spare capacity below its threshold, reliability degraded');
    expect(alerts({ nvme: { device: 'nvme0', critical_warning: 0, percentage_used: 79, temperature_c: 45, media_errors: 0 } })).toEqual([]);
  });

  it('keeps when an alert was first raised while it stays raised', () => {
    const first = alerts({ temp_c: 82 }, { nowMs: NOW - 30_000, lastSampleMs: NOW - 30_000 });
    expect(first[0]?.sinceMs).toBe(NOW - 30_000);
    const later = alerts({ temp_c: 83 }, { previous: first });
    expect(later[0]?.sinceMs).toBe(NOW - 30_000);
    // A different condition (now critical) starts its own clock.
    expect(alerts({ temp_c: 90 }, { previous: first })[0]?.sinceMs).toBe(NOW);
  });

  it('marks a device stale after staleSeconds without a sample, keeping its last alerts', () => {
    expect(codes(alerts({ temp_c: 86 }, { lastSampleMs: NOW - 9_900 }))).toEqual(['temp-critical']);
    const stale = alerts({ temp_c: 86 }, { lastSampleMs: NOW - 10_000 });
    expect(codes(stale)).toEqual(['temp-critical', 'stale']);
    expect(stale[1]?.title).toBe('No sample for 10 s');
    expect(statusOf(stale, { link: 'down', hasSample: true })).toBe('stale');
  });

  it('says connecting or unreachable before the first sample', () => {
    const none = evaluateAlerts({ sample: null, lastSampleMs: null, backlog: [], thresholds: defaultHealthThresholds, nowMs: NOW, previous: [] });
    expect(none).toEqual([]);
    expect(statusOf(none, { link: 'connecting', hasSample: false })).toBe('connecting');
    expect(statusOf(none, { link: 'down', hasSample: false })).toBe('unreachable');
  });

  it('sorts statuses worst first', () => {
    const sorted = (['ok', 'warning', 'stale', 'critical', 'connecting', 'unreachable'] as const).slice().sort((a, b) => statusRank(a) - statusRank(b));
    expect(sorted).toEqual(['critical', 'unreachable', 'stale', 'warning', 'connecting', 'ok']);
  });
});

describe('backlog growing', () => {
  const points = (values: number[], stepMs = 30_000): BacklogPoint[] => values.map((records, i) => ({ atMs: NOW - (values.length - 1 - i) * stepMs, records }));

  it('is growing when it rose without falling over the whole window', () => {
    const rising = points([100, 100, 150, 200, 200, 260, 300, 300, 350, 400, 450]); // 5 minutes at 30 s
    expect(backlogGrowing(rising, 5, NOW)).toBe(true);
    const list = alerts({ journal: { records: 5000, bytes: 1e6, backlog_records: 450, ingest_per_s: 20 } }, { backlog: rising });
    expect(codes(list)).toEqual(['backlog-growing']);
    expect(list[0]?.explanation).toContain('grew by 350 to 450');
    expect(list[0]?.explanation).toContain('no direct uplink');
    expect(list[0]?.action).toMatch(/Courier → Pull/);
  });

  it('is not growing when the window is not yet covered, when it fell once, or when it is flat', () => {
    expect(backlogGrowing(points([100, 200, 300, 400]), 5, NOW)).toBe(false);
    expect(backlogGrowing(points([100, 150, 200, 120, 300, 350, 400, 450, 500, 550, 600]), 5, NOW)).toBe(false);
    expect(backlogGrowing(points(Array.from({ length: 11 }, () => 300)), 5, NOW)).toBe(false);
    // Only the last backlogGrowingMinutes count: an old drop does not matter.
    expect(backlogGrowing(points([900, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]), 5, NOW)).toBe(true);
  });

  it('names the uplink error when the uplink is backing off', () => {
    const list = alerts(
      { journal: { records: 5000, bytes: 1e6, backlog_records: 900, ingest_per_s: 20 }, uplink: { state: 'backoff', last_forward_ms: NOW - 10 * MIN, last_error: 'connect ECONNREFUSED 10.0.0.2:8443' } },
      { backlog: points([100, 200, 300, 400, 500, 600, 700, 800, 900, 900, 900]) },
    );
    expect(list[0]?.explanation).toContain('ECONNREFUSED');
    expect(list[0]?.action).toMatch(/Fix the uplink/);
  });
});

describe('agent service alerts', () => {
  const status = (list: HealthAlert[]) => statusOf(list, { link: 'up', hasSample: true });

  it('a stopped systemd service is critical and says how to start it', () => {
    const list = alerts({ service: runningService({ state: 'stopped', detail: 'inactive/dead', pid: null }) });
    expect(codes(list)).toEqual(['agent-stopped']);
    expect(list[0]?.severity).toBe('critical');
    expect(list[0]?.title).toBe('Agent service stopped');
    expect(list[0]?.explanation).toContain('inactive/dead');
    expect(list[0]?.action).toContain('sudo systemctl start fieldkit-agent');
    expect(list[0]?.action).toMatch(/redeploy/);
    expect(status(list)).toBe('critical');
  });

  it('a daemon that died with no systemd to restart it is critical, and names the pid', () => {
    const list = alerts({ service: runningService({ manager: 'process', state: 'failed', detail: 'pid 4711 is gone without a clean stop', restarts: null }) });
    expect(codes(list)).toEqual(['agent-stopped']);
    expect(list[0]?.title).toBe('Agent service died');
    expect(list[0]?.explanation).toMatch(/pid 4711 is gone.*crashed or was killed/);
    expect(list[0]?.action).toMatch(/fieldkit-agent run/);
    expect(status(list)).toBe('critical');
  });

  it('a failed unit points at the journal of the unit', () => {
    const list = alerts({ service: runningService({ state: 'failed', detail: 'failed/failed (exit-code)' }) });
    expect(list[0]?.action).toContain('journalctl -u fieldkit-agent');
    expect(list[0]?.explanation).toContain('systemd is not restarting it');
  });

  it('waiting for an automatic restart is critical; three crashes in ten minutes is a crash loop', () => {
    const once = alerts({ service: runningService({ state: 'restarting', detail: 'activating/auto-restart (exit-code)', restarts: 1, recent_crashes: 1, pid: null }) });
    expect(codes(once)).toEqual(['agent-crash-loop']);
    expect(once[0]?.title).toBe('Agent crashed, restarting');
    expect(status(once)).toBe('critical');
    const loop = alerts({ service: runningService({ state: 'restarting', detail: 'activating/auto-restart (exit-code)', restarts: 5, recent_crashes: 4 }) });
    expect(loop[0]?.title).toBe('Agent crash-looping (4 crashes in 10 min)');
    // Running between crashes is no better.
    const between = alerts({ service: runningService({ restarts: 5, recent_crashes: 3 }) });
    expect(codes(between)).toEqual(['agent-crash-loop']);
    expect(status(between)).toBe('critical');
    // One crash, running again: worth a warning, not an alarm.
    const recovered = alerts({ service: runningService({ restarts: 1, recent_crashes: 1 }) });
    expect(recovered[0]?.title).toBe('Agent restarted after a crash');
    expect(status(recovered)).toBe('warning');
  });

  it('a live process that stopped answering is wedged after 8 s; a SIGSTOPped one at once', () => {
    expect(alerts({ service: runningService({ silent_s: 7.9, answered_ms: NOW - 7900 }) })).toEqual([]);
    const silent = alerts({ service: runningService({ silent_s: 9, answered_ms: NOW - 9000 }) });
    expect(codes(silent)).toEqual(['agent-wedged']);
    expect(silent[0]?.title).toBe('Agent not answering for 9 s');
    expect(silent[0]?.action).toContain('sudo systemctl restart fieldkit-agent');
    expect(status(silent)).toBe('critical');
    const frozen = alerts({ service: runningService({ process_stopped: true, silent_s: 1 }) });
    expect(frozen[0]?.title).toBe('Agent frozen (process stopped)');
    expect(frozen[0]?.action).toContain('sudo kill -CONT 812');
    expect(status(frozen)).toBe('critical');
  });

  it('a journal that cannot be written is critical even while the daemon runs', () => {
    const list = alerts({ service: runningService({ journal_writable: false, journal_error: 'the filesystem is read-only' }) });
    expect(codes(list)).toEqual(['journal-not-writable']);
    expect(list[0]?.explanation).toContain('read-only');
    expect(status(list)).toBe('critical');
  });

  it('a sample from an agent too old to say is a warning, never OK', () => {
    const old = sample();
    delete old.service;
    const list = evaluateAlerts({ sample: old, lastSampleMs: NOW - 500, backlog: [], thresholds: defaultHealthThresholds, nowMs: NOW, previous: [] });
    expect(codes(list)).toEqual(['agent-service-unknown']);
    expect(list[0]?.title).toBe('Agent service state unknown (agent too old)');
    expect(list[0]?.severity).toBe('warning');
    expect(status(list)).toBe('warning');
    const unreadable = alerts({ service: runningService({ state: 'unknown', detail: 'systemctl failed: timed out' }) });
    expect(codes(unreadable)).toEqual(['agent-service-unknown']);
    expect(status(unreadable)).toBe('warning');
  });

  it('a dead agent outranks what its last figures say', () => {
    const list = alerts({ temp_c: 81, service: runningService({ state: 'stopped', detail: 'inactive/dead' }) });
    expect(codes(list)).toEqual(['agent-stopped', 'temp-warning']);
  });
});

describe('the agent’s own state snapshots', () => {
  const HOUR_S = 3600;
  const snapshots = (patch: Partial<NonNullable<HealthSample['backup_snapshots']>> = {}): Partial<HealthSample> => ({
    backup_snapshots: { folder: '/var/lib/fieldkit-agent/snapshots', newestGoodAt: NOW - 30 * MIN, newestGoodBytes: 4e6, count: 24, intervalSeconds: HOUR_S, lastError: null, ...patch },
  });

  it('raise nothing while the newest good one is within two intervals, or before the first one of a fresh agent', () => {
    expect(codes(alerts(snapshots()))).toEqual([]);
    expect(codes(alerts(snapshots({ newestGoodAt: NOW - 2 * 60 * MIN })))).toEqual([]);
    expect(codes(alerts(snapshots({ newestGoodAt: null, count: 0 })))).toEqual([]);
    expect(codes(alerts())).toEqual([]);
  });

  it('a failing snapshot is a warning naming the error, the folder and how old the newest good one is', () => {
    const list = alerts(snapshots({ lastError: 'No space left on device', newestGoodAt: NOW - 3 * 60 * MIN }));
    expect(codes(list)).toEqual(['device-snapshots-failing']);
    expect(list[0]?.severity).toBe('warning');
    expect(list[0]?.explanation).toContain('No space left on device');
    expect(list[0]?.explanation).toContain('3 h old');
    expect(list[0]?.action).toContain('/var/lib/fieldkit-agent/snapshots');
    expect(statusOf(list, { link: 'up', hasSample: true })).toBe('warning');
  });

  it('a newest good snapshot far older than the interval (a stopped timer) is overdue, judged on the device clock', () => {
    const list = alerts(snapshots({ newestGoodAt: NOW - 5 * 60 * MIN }));
    expect(codes(list)).toEqual(['device-snapshots-failing']);
    expect(list[0]?.title).toBe('On-device snapshot overdue');
    expect(list[0]?.explanation).toContain('5 h old');
  });
});
