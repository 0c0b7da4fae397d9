/**
 * What the health service keeps per device, and the pure steps over it: take in a sample
 * (the 15-minute window and the sparse backlog history), judge its alerts, and the view a screen is sent.
 */
import type { Device } from '../../shared/devices.ts';
import type { DeviceHealthView, HealthAlert, HealthThresholds } from '../../shared/fleetHealth.ts';
import type { HealthSample } from '../../shared/health.ts';
import { evaluateAlerts, statusOf, type BacklogPoint, type LinkState } from '../../shared/healthAlerts.ts';
import type { DeviceWatcher } from './deviceWatcher.ts';

const RECENT_MS = 15 * 60_000;
/** 15 minutes at 1 Hz, and some. */
const RECENT_MAX = 960;
/** The backlog history keeps one point per this long: enough for a 2-hour "growing" window. */
const BACKLOG_STEP_MS = 10_000;
const BACKLOG_KEEP_MS = 125 * 60_000;

export type DeviceState = {
  ref: string;
  watcher: DeviceWatcher | null;
  link: LinkState;
  linkError: string | null;
  sample: HealthSample | null;
  lastSampleMs: number | null;
  recent: HealthSample[];
  backlog: BacklogPoint[];
  alerts: HealthAlert[];
  /** The view last sent, to send only what changed. */
  sentKey: string;
  /** The sample time last written to the device store as its "last seen". */
  seenWrittenMs: number | null;
};

export function newDeviceState(ref: string): DeviceState {
  return { ref, watcher: null, link: 'connecting', linkError: null, sample: null, lastSampleMs: null, recent: [], backlog: [], alerts: [], sentKey: '', seenWrittenMs: null };
}

/** Takes in a sample that arrived at `atMs` (laptop clock); the caller re-judges the alerts. */
export function recordSample(state: DeviceState, sample: HealthSample, atMs: number): void {
  state.sample = sample;
  state.lastSampleMs = atMs;
  state.link = 'up';
  state.linkError = null;
  state.recent.push(sample);
  // By the device's clock, as charts draw them; the cap holds if that clock jumps back.
  const cutoff = sample.at_ms - RECENT_MS;
  let drop = Math.max(0, state.recent.length - RECENT_MAX);
  while (drop < state.recent.length - 1 && (state.recent[drop]?.at_ms ?? 0) < cutoff) drop++;
  if (drop > 0) state.recent.splice(0, drop);
  const lastPoint = state.backlog.at(-1);
  if (!lastPoint || atMs - lastPoint.atMs >= BACKLOG_STEP_MS) {
    state.backlog.push({ atMs, records: sample.journal.backlog_records });
    while ((state.backlog[0]?.atMs ?? atMs) < atMs - BACKLOG_KEEP_MS) state.backlog.shift();
  }
}

/** Re-judges the device's alerts against `thresholds` at `nowMs` (a silent device turns stale). */
export function judgeAlerts(state: DeviceState, thresholds: HealthThresholds, nowMs: number): void {
  state.alerts = evaluateAlerts({
    sample: state.sample,
    lastSampleMs: state.lastSampleMs,
    backlog: state.backlog,
    thresholds,
    nowMs,
    previous: state.alerts,
  });
}

/** A device's view; a device never watched yet is "connecting". */
/** `extra`: alerts judged outside the samples (backups overdue), listed also while the device is offline. */
export function viewOf(device: Device, state: DeviceState | undefined, extra: readonly HealthAlert[] = []): DeviceHealthView {
  if (!state) {
    return { deviceId: device.id, deviceName: device.name, site: device.site, status: 'connecting', sample: null, lastSampleMs: null, lastSeenMs: device.lastSeenMs, alerts: [...extra], linkError: null };
  }
  const alerts = [...state.alerts, ...extra];
  return {
    deviceId: device.id,
    deviceName: device.name,
    site: device.site,
    status: statusOf(alerts, { link: state.link, hasSample: state.sample !== null }),
    sample: state.sample,
    lastSampleMs: state.lastSampleMs,
    lastSeenMs: newest(device.lastSeenMs, state.lastSampleMs),
    alerts,
    linkError: state.link === 'up' ? null : state.linkError,
  };
}

function newest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

/** What a view shows, minus the parts that change without meaning anything (an alert's age, the stale counter). */
export function viewKey(view: DeviceHealthView): string {
  return JSON.stringify([view.status, view.lastSampleMs, view.lastSeenMs, view.linkError, view.deviceName, view.site, view.alerts.map((a) => [a.code, a.severity, a.code === 'stale' ? '' : a.title])]);
}
