/**
 * What a device's health means to a technician: alerts raised from its latest sample, its
 * recent journal backlog and the editable thresholds, each with an explanation that
 * carries the numbers and an action that says what to do. Pure, so the health service,
 * the CLI and the UI judge a device the same way.
 */
import type { AlertSeverity, DeviceHealthStatus, HealthAlert, HealthThresholds } from './fleetHealth.ts';
import type { HealthSample } from './health.ts';
import { serviceAlerts } from './agentServiceAlerts.ts';
import { deviceSnapshotAlerts } from './deviceSnapshotAlerts.ts';
import { decodeThrottled } from './throttling.ts';

/** The journal backlog at one moment (laptop clock), kept by whoever watches the device. */
export type BacklogPoint = { atMs: number; records: number };

export type AlertInput = {
  /** The latest sample, or null before the first one. */
  sample: HealthSample | null;
  /** When that sample arrived (laptop clock: the device's clock may be off); null before the first. */
  lastSampleMs: number | null;
  /** Recent backlog values, oldest first; only the last `backlogGrowingMinutes` are looked at. */
  backlog: readonly BacklogPoint[];
  thresholds: HealthThresholds;
  nowMs: number;
  /** The alerts raised last time: an alert still raised keeps its `sinceMs`. */
  previous: readonly HealthAlert[];
};

type Draft = Omit<HealthAlert, 'sinceMs'> & { sinceMs?: number };

const MINUTE = 60_000;
/** A backlog window may start this much after its nominal start (samples are not exactly on time). */
const BACKLOG_SLACK_MS = 15_000;

function round(n: number, digits = 0): string {
  const f = 10 ** digits;
  return String(Math.round(n * f) / f);
}

function gib(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${round(bytes / 1024 ** 3, 1)} GiB` : `${round(bytes / 1024 ** 2)} MiB`;
}

function temperatureAlerts(sample: HealthSample, t: HealthThresholds): Draft[] {
  const temp = sample.temp_c;
  if (temp === null) return [];
  const cooling = 'Check the fan and heatsink, clear the air path, and move the Pi out of direct sun or away from other heat sources; a case without airflow needs a fan.';
  if (temp >= t.tempCriticalC) {
    return [
      {
        code: 'temp-critical',
        severity: 'critical',
        title: `${round(temp)} °C — critical`,
        explanation: `The SoC is at ${round(temp, 1)} °C, at or above the critical ${round(t.tempCriticalC)} °C: the firmware throttles the CPU hard from 85 °C, so inference slows and may miss deadlines.`,
        action: cooling,
      },
    ];
  }
  if (temp >= t.tempWarningC) {
    return [
      {
        code: 'temp-warning',
        severity: 'warning',
        title: `${round(temp)} °C — hot`,
        explanation: `The SoC is at ${round(temp, 1)} °C, at or above the warning ${round(t.tempWarningC)} °C (critical at ${round(t.tempCriticalC)} °C); the firmware starts soft-throttling around 80 °C.`,
        action: cooling,
      },
    ];
  }
  return [];
}

const powerAction = 'Use the official Raspberry Pi supply (27 W USB-C for a Pi 5, 15 W for a Pi 4) and check the cable: a thin or long USB cable drops the voltage; powered USB devices or a HAT can draw too much.';

function throttlingAlerts(sample: HealthSample): Draft[] {
  const out: Draft[] = [];
  // Re-decode from the raw word: the UI and the agent must read the same bits the same way.
  const t = sample.throttling === null ? null : decodeThrottled(sample.throttling.raw);
  const hex = t === null ? '' : ` (get_throttled=0x${t.raw.toString(16)})`;
  const uvNow = t?.now.under_voltage === true;
  if (uvNow || sample.volt_alarm === true) {
    const seenBy = uvNow && sample.volt_alarm === true ? 'the firmware and the PMIC both report' : uvNow ? 'the firmware reports' : 'the PMIC voltage alarm (hwmon rpi_volt) reports';
    out.push({
      code: 'under-voltage-now',
      severity: 'critical',
      title: 'Under-voltage now',
      explanation: `The supply is below 4.63 V right now: ${seenBy} it${hex}. The CPU is slowed, USB devices may reset, and SD card writes can be corrupted.`,
      action: powerAction,
    });
  } else if (t?.since_boot.under_voltage === true) {
    out.push({
      code: 'under-voltage-since-boot',
      severity: 'warning',
      title: 'Under-voltage since boot',
      explanation: `The supply dropped below 4.63 V at some point since the Pi booted${hex}, though it is fine now: it browns out under load (inference bursts, USB devices).`,
      action: `${powerAction} The health history pulled with the journal shows when it happened.`,
    });
  }
  if (t === null) return out;
  const nowWords: string[] = [];
  if (t.now.throttled) nowWords.push('throttled');
  if (t.now.arm_freq_capped) nowWords.push('ARM frequency capped');
  if (t.now.soft_temp_limit) nowWords.push('soft temperature limit active');
  const bootWords: string[] = [];
  if (t.since_boot.throttled && !t.now.throttled) bootWords.push('was throttled');
  if (t.since_boot.arm_freq_capped && !t.now.arm_freq_capped) bootWords.push('had its ARM frequency capped');
  if (t.since_boot.soft_temp_limit && !t.now.soft_temp_limit) bootWords.push('reached the soft temperature limit');
  const cause = (): string =>
    uvNow || t.since_boot.under_voltage ? 'under-voltage' : sample.temp_c !== null && sample.temp_c >= 75 ? `heat (${round(sample.temp_c)} °C)` : 'heat or under-voltage';
  if (nowWords.length > 0) {
    out.push({
      code: 'throttled-now',
      severity: 'warning',
      title: nowWords.length === 1 ? `${nowWords[0] ?? ''} now`.replace(/^./, (c) => c.toUpperCase()) : 'Throttled now',
      explanation: `The firmware is slowing the CPU right now (${nowWords.join(', ')})${hex}, most likely because of ${cause()}: inference runs slower than it should.`,
      action: uvNow || t.since_boot.under_voltage ? powerAction : 'Improve cooling (fan, heatsink, airflow); if the temperature is normal, check the power supply and cable.',
    });
  }
  if (bootWords.length > 0) {
    out.push({
      code: 'throttled-since-boot',
      severity: 'warning',
      title: `${bootWords.join(', ')} since boot`.replace(/^./, (c) => c.toUpperCase()),
      explanation: `Since it booted, the Pi ${bootWords.join(' and ')}${hex}, most likely because of ${cause()}; it is not throttled at this moment.`,
      action: 'Look at the health history (pulled with the journal) for when it happened; improve cooling or power if it repeats.',
    });
  }
  return out;
}

function diskAlerts(sample: HealthSample, t: HealthThresholds): Draft[] {
  const out: Draft[] = [];
  for (const disk of sample.disks) {
    if (disk.total_bytes <= 0) continue;
    const usedPct = ((disk.total_bytes - disk.free_bytes) / disk.total_bytes) * 100;
    if (usedPct < t.diskUsedPercent) continue;
    out.push({
      code: 'disk-full',
      severity: usedPct >= Math.max(98, t.diskUsedPercent) ? 'critical' : 'warning',
      title: `${disk.path} ${round(Math.floor(usedPct))}% full`,
      explanation: `${disk.path} has ${gib(disk.free_bytes)} free of ${gib(disk.total_bytes)} (${round(usedPct, 1)}% used, the limit is ${round(t.diskUsedPercent)}%). When the journal's disk budget runs out the agent drops metrics first, then state events, and records each loss.`,
      action: `Pull the journal with the courier so the agent may prune what was forwarded; remove old releases or logs under ${disk.path}; or use a larger card or drive.`,
    });
  }
  return out;
}

const nvmeWarningBits: [number, string][] = [
  [0, 'spare capacity below its threshold'],
  [1, 'temperature out of range'],
  [2, 'reliability degraded by media errors'],
  [3, 'media switched to read-only'],
  [4, 'volatile memory backup failed'],
];

function storageWearAlerts(sample: HealthSample, t: HealthThresholds): Draft[] {
  const out: Draft[] = [];
  const emmc = sample.emmc;
  if (emmc?.pre_eol_info !== null && emmc?.pre_eol_info !== undefined && emmc.pre_eol_info >= t.emmcPreEol) {
    const level = emmc.pre_eol_info >= 3 ? 'urgent (reserved blocks almost used up)' : 'warning (80% of reserved blocks used)';
    const life = [emmc.life_time_a, emmc.life_time_b].filter((v): v is number => v !== null);
    const lifeText = life.length > 0 ? ` Estimated life used: ${life.map((v) => (v >= 11 ? 'exceeded' : `${String((v - 1) * 10)}-${String(v * 10)}%`)).join(' / ')}.` : '';
    out.push({
      code: 'emmc-wear',
      severity: emmc.pre_eol_info >= 3 ? 'critical' : 'warning',
      title: `eMMC worn (pre-EOL ${String(emmc.pre_eol_info)})`,
      explanation: `The eMMC ${emmc.device} reports pre_eol_info ${String(emmc.pre_eol_info)}: ${level}.${lifeText} It will turn read-only when worn out, and the journal stops.`,
      action: 'Plan a replacement of this module (a CM with eMMC cannot swap its storage): pull the journal now, and reduce writes (journal retention, logging) until then.',
    });
  }
  const nvme = sample.nvme;
  if (nvme) {
    if (nvme.percentage_used >= t.nvmePercentageUsed) {
      out.push({
        code: 'nvme-wear',
        severity: nvme.percentage_used >= 100 ? 'critical' : 'warning',
        title: `NVMe ${String(nvme.percentage_used)}% worn`,
        explanation: `The NVMe drive ${nvme.device} has used ${String(nvme.percentage_used)}% of its rated write endurance (the limit is ${String(t.nvmePercentageUsed)}%)${nvme.media_errors > 0 ? `, with ${String(nvme.media_errors)} media errors` : ''}.`,
        action: 'Order a replacement drive and swap it at the next visit; pull the journal first.',
      });
    }
    if (nvme.critical_warning !== 0) {
      const words = nvmeWarningBits.filter(([bit]) => ((nvme.critical_warning >>> bit) & 1) === 1).map(([, w]) => w);
      out.push({
        code: 'nvme-critical-warning',
        severity: 'critical',
        title: 'NVMe critical warning',
        explanation: `The NVMe drive ${nvme.device} raises critical_warning 0x${nvme.critical_warning.toString(16)}: ${words.length > 0 ? words.join(', ') : 'a vendor-specific condition'}.`,
        action: 'Pull the journal now, then replace the drive; if the temperature bit is set, cool the drive (heatsink, airflow).',
      });
    }
  }
  return out;
}

/**
 * True when the backlog never fell over the last `minutes` and ended higher than it
 * started, with points spanning the whole window.
 */
export function backlogGrowing(backlog: readonly BacklogPoint[], minutes: number, nowMs: number): boolean {
  const from = nowMs - minutes * MINUTE;
  // The last point at or before the window's start anchors it; without one the window is not yet covered.
  let startIndex = -1;
  for (let i = 0; i < backlog.length; i++) {
    const p = backlog[i];
    if (p !== undefined && p.atMs <= from + BACKLOG_SLACK_MS) startIndex = i;
  }
  if (startIndex < 0) return false;
  const window = backlog.slice(startIndex);
  if (window.length < 2) return false;
  for (let i = 1; i < window.length; i++) {
    const a = window[i - 1];
    const b = window[i];
    if (a !== undefined && b !== undefined && b.records < a.records) return false;
  }
  const first = window[0];
  const last = window.at(-1);
  return first !== undefined && last !== undefined && last.records > first.records;
}

function backlogAlerts(input: AlertInput): Draft[] {
  const { sample, thresholds: t, nowMs } = input;
  if (sample === null || !backlogGrowing(input.backlog, t.backlogGrowingMinutes, nowMs)) return [];
  const from = input.backlog.find((p) => p.atMs >= nowMs - t.backlogGrowingMinutes * MINUTE - BACKLOG_SLACK_MS);
  const grew = from === undefined ? 0 : sample.journal.backlog_records - from.records;
  const uplink = sample.uplink;
  const why =
    uplink.state === 'off'
      ? 'This Pi has no direct uplink, so only a courier pull moves its journal.'
      : uplink.state === 'backoff'
        ? `Its uplink is backing off after a failure${uplink.last_error ? `: ${uplink.last_error}` : ''}.`
        : uplink.state === 'outside_window'
          ? 'Its uplink is outside its forwarding window.'
          : 'Its uplink is not keeping up with what is journaled.';
  return [
    {
      code: 'backlog-growing',
      severity: 'warning',
      title: `Backlog growing (${String(sample.journal.backlog_records)} records)`,
      explanation: `The journal backlog (records not yet in ClickHouse) grew by ${String(grew)} to ${String(sample.journal.backlog_records)} over the last ${round(t.backlogGrowingMinutes)} minutes. ${why}`,
      action:
        uplink.state === 'backoff'
          ? "Fix the uplink (network, ClickHouse credentials) or pull the journal with the courier (Courier → Pull) and forward it from the laptop."
          : 'Pull the journal with the courier (Courier → Pull) and forward it from the laptop when online; check the uplink settings if this Pi should forward by itself.',
    },
  ];
}

function staleAlert(input: AlertInput): Draft[] {
  if (input.lastSampleMs === null) return [];
  const silentMs = input.nowMs - input.lastSampleMs;
  if (silentMs < input.thresholds.staleSeconds * 1000) return [];
  return [
    {
      code: 'stale',
      severity: 'warning',
      title: `No sample for ${round(silentMs / 1000)} s`,
      explanation: `The last health sample arrived ${round(silentMs / 1000)} s ago (stale after ${round(input.thresholds.staleSeconds)} s): the figures shown are old. The link dropped, the Pi rebooted or lost power, or the agent stopped.`,
      action: 'Check that the Pi is powered and reachable (network, cable); fieldkit reconnects by itself once it answers. If it stays silent, check the agent with `systemctl status fieldkit-agent` on the Pi.',
    },
  ];
}

/** Which alerts are the same condition (a disk alert per mount; the others one per code). */
function identityOf(alert: Pick<HealthAlert, 'code' | 'title'>): string {
  return alert.code === 'disk-full' ? `${alert.code}:${alert.title.split(' ')[0] ?? ''}` : alert.code;
}

/**
 * The alerts a device raises now, critical first. An alert that was already raised keeps
 * its `sinceMs`, so "since 02:14" does not move every second.
 */
export function evaluateAlerts(input: AlertInput): HealthAlert[] {
  const { sample, thresholds } = input;
  const drafts: Draft[] = [];
  if (sample !== null) {
    // The service first: a dead agent matters more than anything its last figures say.
    drafts.push(...serviceAlerts(sample), ...temperatureAlerts(sample, thresholds), ...throttlingAlerts(sample), ...diskAlerts(sample, thresholds), ...storageWearAlerts(sample, thresholds), ...deviceSnapshotAlerts(sample));
  }
  drafts.push(...backlogAlerts(input), ...staleAlert(input));
  const previous = new Map(input.previous.map((a) => [identityOf(a), a.sinceMs]));
  const alerts = drafts.map((d): HealthAlert => ({ ...d, sinceMs: previous.get(identityOf(d)) ?? input.nowMs }));
  const rank = (s: AlertSeverity) => (s === 'critical' ? 0 : 1);
  return alerts.sort((a, b) => rank(a.severity) - rank(b.severity));
}

/** Where the device's link stands, for the status: up (or up before it went quiet), connecting, or failed. */
export type LinkState = 'up' | 'connecting' | 'down';

/**
 * One colour for a tile. Old figures are worse than no alert: a stale device is 'stale'
 * whatever its last sample said (its alerts stay listed); a device never heard from is
 * 'connecting' or, once its link failed, 'unreachable'.
 */
export function statusOf(alerts: readonly HealthAlert[], context: { link: LinkState; hasSample: boolean }): DeviceHealthStatus {
  if (!context.hasSample) return context.link === 'down' ? 'unreachable' : 'connecting';
  if (alerts.some((a) => a.code === 'stale')) return 'stale';
  if (alerts.some((a) => a.severity === 'critical')) return 'critical';
  if (alerts.some((a) => a.severity === 'warning')) return 'warning';
  return 'ok';
}

const statusOrder: Record<DeviceHealthStatus, number> = { critical: 0, unreachable: 1, stale: 2, warning: 3, connecting: 4, ok: 5 };

/** Sort key for "worst first": critical, unreachable, stale, warning, connecting, ok. */
export function statusRank(status: DeviceHealthStatus): number {
  return statusOrder[status];
}
