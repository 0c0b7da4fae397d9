/**
 * How health reads on a tile and on the device page: throttling in words, temperatures,
 * percentages, the fullest disk, "3 s ago". Plain functions so the grid, the device page
 * and the tests use the same words.
 */
import type { DeviceHealthStatus } from '../../../shared/fleetHealth.ts';
import type { HealthEvent, HealthSample, ThrottleFlags } from '../../../shared/health.ts';

const flagWords: readonly (readonly [keyof ThrottleFlags, string, string])[] = [
  ['under_voltage', 'under-voltage now', 'under-voltage since boot'],
  ['throttled', 'throttled now', 'was throttled since boot'],
  ['arm_freq_capped', 'frequency capped now', 'was frequency capped since boot'],
  ['soft_temp_limit', 'soft temperature limit now', 'hit soft temperature limit since boot'],
];

export type PowerWords = { words: string[]; tone: 'ok' | 'now' | 'past' | 'unknown' };

/**
 * The firmware's throttling word and the PMIC's under-voltage alarm in words, the
 * conditions active now first. "unknown" when neither can be read (no vcgencmd).
 */
export function powerWords(sample: Pick<HealthSample, 'throttling' | 'volt_alarm'>): PowerWords {
  const now: string[] = [];
  const past: string[] = [];
  const t = sample.throttling;
  if (t !== null) {
    for (const [key, nowWord, pastWord] of flagWords) {
      if (t.now[key]) now.push(nowWord);
      else if (t.since_boot[key]) past.push(pastWord);
    }
  }
  if (sample.volt_alarm === true && !now.includes('under-voltage now')) now.unshift('under-voltage now');
  if (now.length > 0) return { words: [...now, ...past], tone: 'now' };
  if (past.length > 0) return { words: past, tone: 'past' };
  if (t === null && sample.volt_alarm === null) return { words: ['power and throttling unknown'], tone: 'unknown' };
  return { words: ['no throttling or under-voltage'], tone: 'ok' };
}

/** "52.3 °C", or "—" when the SoC temperature cannot be read. */
export function formatTemp(celsius: number | null): string {
  return celsius === null ? '—' : `${celsius.toFixed(1)} °C`;
}

/** "37%", or "—". */
export function formatPercent(value: number | null): string {
  return value === null ? '—' : `${Math.round(value)}%`;
}

export type DiskFill = { path: string; usedPercent: number };

/** The fullest disk the agent reports (its data dir and /), since that is the one that stops it. */
export function fullestDisk(disks: HealthSample['disks']): DiskFill | null {
  let fullest: DiskFill | null = null;
  for (const disk of disks) {
    if (disk.total_bytes <= 0) continue;
    const usedPercent = ((disk.total_bytes - disk.free_bytes) / disk.total_bytes) * 100;
    if (fullest === null || usedPercent > fullest.usedPercent) fullest = { path: disk.path, usedPercent };
  }
  return fullest;
}

/** Memory in use as a percentage of the total. */
export function memoryUsedPercent(sample: Pick<HealthSample, 'mem_total_bytes' | 'mem_available_bytes'>): number | null {
  if (sample.mem_total_bytes <= 0) return null;
  return ((sample.mem_total_bytes - sample.mem_available_bytes) / sample.mem_total_bytes) * 100;
}

const counts = new Intl.NumberFormat('en-US');

/** "1,204". */
export function formatCount(n: number): string {
  return counts.format(n);
}

/** "1,204 to forward", "none to forward". */
export function formatBacklog(records: number): string {
  return records === 0 ? 'none to forward' : `${counts.format(records)} to forward`;
}

/** "3 s ago", "2 min ago", "1 h ago", "never". Seconds matter here: stale is 10 s. */
export function formatLastSeen(epochMs: number | null, now: number): string {
  if (epochMs === null) return 'never';
  const seconds = Math.max(0, Math.floor((now - epochMs) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

export const statusLabels: Readonly<Record<DeviceHealthStatus, string>> = {
  ok: 'OK',
  warning: 'Warning',
  critical: 'Critical',
  stale: 'Stale',
  connecting: 'Connecting',
  unreachable: 'Unreachable',
};

const eventWords: Readonly<Record<HealthEvent['kind'], string>> = {
  under_voltage: 'Under-voltage occurred',
  throttled: 'Throttled',
  freq_capped: 'Frequency capped',
  soft_temp_limit: 'Soft temperature limit reached',
  temp_high: 'Temperature high',
  disk_low: 'Disk low',
  emmc_wear: 'eMMC wear',
  nvme_warning: 'NVMe warning',
  agent_start: 'Agent started',
};

/** True for events that mean trouble (drawn in the warning colour on the timeline). */
export function isTroubleEvent(kind: HealthEvent['kind']): boolean {
  return kind !== 'agent_start';
}

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const dayAndClock = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

/** "Under-voltage occurred at 02:14" (with the date when not today). */
export function describeEvent(event: Pick<HealthEvent, 'kind' | 'at_ms'>, now: number): string {
  const sameDay = new Date(event.at_ms).toDateString() === new Date(now).toDateString();
  return `${eventWords[event.kind]} at ${(sameDay ? clock : dayAndClock).format(event.at_ms)}`;
}

/** What a device page says when it shows no alert: before the first sample nothing was measured, so nothing is "met". */
export function noAlertsText(sampled: boolean): string {
  return sampled ? 'No alerts: every threshold is met.' : 'No sample yet: thresholds are checked once the first one arrives.';
}
