/**
 * Live health of the fleet, in whichever process carries the app API. Screens (and the
 * CLI) hold leases: `watch()` says "keep these devices (or all) coming for N seconds";
 * the service follows the union of live leases, one self-reconnecting watcher per device,
 * and closes a device's link ~30 s after its last lease ends (so flipping between
 * screens does not reconnect). Each device keeps its last 15 minutes of samples for a
 * device page's first paint, and a sparse backlog history for the "growing" alert.
 * Changes go out as `health.changed`, at most 4 times a second in all.
 */
import type { Device } from '../../shared/devices.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { DeviceHealthView, DeviceSample, HealthAlert, HealthThresholds } from '../../shared/fleetHealth.ts';
import type { HealthSample } from '../../shared/health.ts';
import { evaluateAlerts, statusOf, statusRank, type BacklogPoint, type LinkState } from '../../shared/healthAlerts.ts';
import type { EventBus } from '../kernel/api/eventBus.ts';
import type { DeviceStore } from '../devices/index.ts';
import type { AppSshKey } from '../kernel/link/appSshKey.ts';
import { startDeviceWatcher, type DeviceWatcher, type DeviceWatcherOptions } from './deviceWatcher.ts';

const RECENT_MS = 15 * 60_000;
/** 15 minutes at 1 Hz, and some. */
const RECENT_MAX = 960;
/** The backlog history keeps one point per this long: enough for a 2-hour "growing" window. */
const BACKLOG_STEP_MS = 10_000;
const BACKLOG_KEEP_MS = 125 * 60_000;

export type HealthServiceOptions = {
  devices: DeviceStore;
  events: EventBus;
  thresholds: HealthThresholds;
  appKey(): AppSshKey;
  serialPassword(device: Device): Promise<string | undefined>;
  now?: () => number;
  /** How long a device's link stays open after its last lease ends. */
  lingerMs?: number;
  /** Shortest gap between two health.changed events. */
  emitIntervalMs?: number;
  /** How often leases, staleness and lingering links are checked. */
  tickMs?: number;
  /** Passed to each device's watcher (backoff, sample interval). */
  watcher?: Pick<DeviceWatcherOptions, 'intervalMs' | 'backoffMs' | 'maxBackoffMs' | 'connectTimeoutMs'>;
  onError?: (error: unknown) => void;
  /**
   * Alerts judged outside the samples (a device's backups overdue), listed with the
   * device's own even while it is offline: a stale backup matters most then.
   */
  extraAlerts?: (deviceRef: string) => HealthAlert[];
};

type DeviceState = {
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
};

export type HealthService = {
  /** Adds a lease; returns every device watched now and when this lease ends. */
  watch(deviceIds: readonly string[] | undefined, leaseSeconds: number): { watching: string[]; leaseUntilMs: number };
  /** Every known device's view, worst first. */
  fleet(): DeviceHealthView[];
  device(ref: string): { view: DeviceHealthView; recent: HealthSample[] };
  thresholds(): HealthThresholds;
  setThresholds(thresholds: HealthThresholds): void;
  close(): Promise<void>;
};

export function createHealthService(options: HealthServiceOptions): HealthService {
  const now = options.now ?? Date.now;
  const lingerMs = options.lingerMs ?? 30_000;
  const emitIntervalMs = options.emitIntervalMs ?? 250;
  const onError = options.onError ?? ((error: unknown) => { console.error(error); });
  let thresholds = options.thresholds;
  let allUntilMs = 0;
  const deviceUntilMs = new Map<string, number>();
  const states = new Map<string, DeviceState>();
  let pendingSamples: DeviceSample[] = [];
  let lastEmitMs = 0;
  let emitTimer: NodeJS.Timeout | null = null;
  let closed = false;

  function stateOf(ref: string): DeviceState {
    let state = states.get(ref);
    if (!state) {
      state = { ref, watcher: null, link: 'connecting', linkError: null, sample: null, lastSampleMs: null, recent: [], backlog: [], alerts: [], sentKey: '' };
      states.set(ref, state);
    }
    return state;
  }

  function reevaluate(state: DeviceState): void {
    state.alerts = evaluateAlerts({
      sample: state.sample,
      lastSampleMs: state.lastSampleMs,
      backlog: state.backlog,
      thresholds,
      nowMs: now(),
      previous: state.alerts,
    });
  }

  function extraAlertsOf(ref: string): HealthAlert[] {
    try {
      return options.extraAlerts?.(ref) ?? [];
    } catch (error) {
      onError(error);
      return [];
    }
  }

  function viewOf(device: Device, state: DeviceState | undefined): DeviceHealthView {
    const extra = extraAlertsOf(device.id);
    if (!state) {
      return { deviceId: device.id, deviceName: device.name, site: device.site, status: 'connecting', sample: null, lastSampleMs: null, alerts: extra, linkError: null };
    }
    const alerts = [...state.alerts, ...extra];
    return {
      deviceId: device.id,
      deviceName: device.name,
      site: device.site,
      status: statusOf(alerts, { link: state.link, hasSample: state.sample !== null }),
      sample: state.sample,
      lastSampleMs: state.lastSampleMs,
      alerts,
      linkError: state.link === 'up' ? null : state.linkError,
    };
  }

  /** What a view shows, minus the parts that change without meaning anything (an alert's age, the stale counter). */
  function keyOf(view: DeviceHealthView): string {
    return JSON.stringify([view.status, view.lastSampleMs, view.linkError, view.deviceName, view.site, view.alerts.map((a) => [a.code, a.severity, a.code === 'stale' ? '' : a.title])]);
  }

  function flush(): void {
    emitTimer = null;
    if (closed) return;
    const changed: DeviceHealthView[] = [];
    for (const device of options.devices.list()) {
      const state = states.get(device.id);
      if (!state) continue;
      const view = viewOf(device, state);
      const key = keyOf(view);
      if (key === state.sentKey) continue;
      state.sentKey = key;
      changed.push(view);
    }
    const samples = pendingSamples;
    pendingSamples = [];
    if (changed.length === 0 && samples.length === 0) return;
    lastEmitMs = now();
    options.events.emit('health.changed', { views: changed, samples });
  }

  function scheduleFlush(): void {
    if (emitTimer !== null || closed) return;
    const wait = Math.max(0, lastEmitMs + emitIntervalMs - now());
    // Even with no wait, go through the timer queue: samples of several devices that
    // arrive together leave in one event.
    emitTimer = setTimeout(flush, wait);
  }

  function onSample(state: DeviceState, sample: HealthSample): void {
    const at = now();
    state.sample = sample;
    state.lastSampleMs = at;
    state.link = 'up';
    state.linkError = null;
    state.recent.push(sample);
    // By the device's clock, as charts draw them; the cap holds if that clock jumps back.
    const cutoff = sample.at_ms - RECENT_MS;
    let drop = Math.max(0, state.recent.length - RECENT_MAX);
    while (drop < state.recent.length - 1 && (state.recent[drop]?.at_ms ?? 0) < cutoff) drop++;
    if (drop > 0) state.recent.splice(0, drop);
    const lastPoint = state.backlog.at(-1);
    if (!lastPoint || at - lastPoint.atMs >= BACKLOG_STEP_MS) {
      state.backlog.push({ atMs: at, records: sample.journal.backlog_records });
      while ((state.backlog[0]?.atMs ?? at) < at - BACKLOG_KEEP_MS) state.backlog.shift();
    }
    reevaluate(state);
    pendingSamples.push({ deviceId: state.ref, sample });
    scheduleFlush();
  }

  function startWatching(device: Device, state: DeviceState): void {
    state.link = state.sample === null ? 'connecting' : state.link;
    state.watcher = startDeviceWatcher({
      ...options.watcher,
      device: () => options.devices.find(device.id),
      appKey: () => options.appKey(),
      serialPassword: (d) => options.serialPassword(d),
      onSample: (sample) => {
        onSample(state, sample);
      },
      onLink: (link, error) => {
        state.link = link;
        state.linkError = error;
        scheduleFlush();
      },
    });
  }

  function stopWatching(state: DeviceState): void {
    const watcher = state.watcher;
    state.watcher = null;
    watcher?.stop().catch(onError);
  }

  function wantedUntil(ref: string): number {
    return Math.max(allUntilMs, deviceUntilMs.get(ref) ?? 0);
  }

  /** Starts and stops watchers to match the leases, and notices devices that went quiet. */
  function tick(): void {
    if (closed) return;
    const t = now();
    const known = new Set<string>();
    for (const device of options.devices.list()) {
      known.add(device.id);
      const until = wantedUntil(device.id);
      const state = states.get(device.id);
      if (t < until + lingerMs) {
        const s = state ?? stateOf(device.id);
        if (!s.watcher) startWatching(device, s);
      } else if (state?.watcher) {
        stopWatching(state);
      }
    }
    // Unwatched devices too: a view nobody refreshes must still turn stale.
    for (const state of states.values()) reevaluate(state);
    for (const [ref, state] of states) {
      if (known.has(ref)) continue;
      stopWatching(state);
      states.delete(ref);
      deviceUntilMs.delete(ref);
    }
    for (const [ref, until] of deviceUntilMs) if (until + lingerMs < t) deviceUntilMs.delete(ref);
    scheduleFlush();
  }

  const ticker = setInterval(tick, options.tickMs ?? 1000);

  function requireDevice(ref: string): Device {
    const device = options.devices.find(ref);
    if (!device) {
      throw new FieldkitError(appError('NOT_FOUND', `There is no device ${ref}.`, 'List devices with `fieldkit devices` (or the Devices screen) and use one of their ids.', 'deviceId'));
    }
    return device;
  }

  return {
    watch(deviceIds, leaseSeconds) {
      const until = now() + leaseSeconds * 1000;
      if (deviceIds === undefined) {
        allUntilMs = Math.max(allUntilMs, until);
      } else {
        for (const ref of deviceIds) requireDevice(ref);
        for (const ref of deviceIds) deviceUntilMs.set(ref, Math.max(deviceUntilMs.get(ref) ?? 0, until));
      }
      tick();
      const watching = [...states.values()].filter((s) => s.watcher !== null).map((s) => s.ref);
      return { watching, leaseUntilMs: until };
    },
    fleet() {
      const views = options.devices.list().map((device) => viewOf(device, states.get(device.id)));
      return views.sort((a, b) => statusRank(a.status) - statusRank(b.status) || a.deviceName.localeCompare(b.deviceName));
    },
    device(ref) {
      const device = requireDevice(ref);
      const state = states.get(ref);
      return { view: viewOf(device, state), recent: state ? [...state.recent] : [] };
    },
    thresholds: () => thresholds,
    setThresholds(next) {
      thresholds = next;
      for (const state of states.values()) reevaluate(state);
      scheduleFlush();
    },
    async close() {
      closed = true;
      clearInterval(ticker);
      if (emitTimer) clearTimeout(emitTimer);
      const watchers = [...states.values()].map((s) => s.watcher).filter((w): w is DeviceWatcher => w !== null);
      for (const state of states.values()) state.watcher = null;
      // A watcher in the middle of connecting finishes its attempt first; do not hold the app's exit for it.
      await Promise.race([Promise.all(watchers.map((w) => w.stop())), new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
    },
  };
}
