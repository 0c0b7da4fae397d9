/**
 * Live health of the fleet, in whichever process carries the app API. Screens (and the
 * CLI) hold leases: `watch()` says "keep these devices (or all) coming for N seconds";
 * the service follows the union of live leases, one self-reconnecting watcher per device,
 * and closes a device's link ~30 s after its last lease ends (so flipping between
 * screens does not reconnect). Each device keeps its last 15 minutes of samples for a
 * device page's first paint, and a sparse backlog history for the "growing" alert
 * (deviceHealthState.ts). Changes go out as `health.changed`, at most 4 times a second in all.
 */
import type { Device } from '../../shared/devices.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { DeviceHealthView, DeviceSample, HealthAlert, HealthThresholds } from '../../shared/fleetHealth.ts';
import type { HealthSample } from '../../shared/health.ts';
import { statusRank } from '../../shared/healthAlerts.ts';
import type { EventBus } from '../kernel/api/eventBus.ts';
import type { DeviceStore } from '../devices/index.ts';
import type { AppSshKey } from '../kernel/link/appSshKey.ts';
import { judgeAlerts, newDeviceState, recordSample, viewKey, viewOf, type DeviceState } from './deviceHealthState.ts';
import { startDeviceWatcher, type DeviceWatcher, type DeviceWatcherOptions } from './deviceWatcher.ts';

/** Devices reads "last seen" to the second below a minute; a write every 5 s keeps it true without a write per sample. */
export const SEEN_WRITE_MS = 5000;

export type HealthServiceOptions = {
  devices: DeviceStore;
  events: EventBus;
  thresholds: HealthThresholds;
  appKey(): AppSshKey;
  serialPassword(device: Device): Promise<string | undefined>;
  now?: () => number;
  /** How long a device's link stays open after its last lease ends. */
  lingerMs?: number;
  /** How often a watched device's newest sample time is written to the device store as its "last seen". */
  seenWriteMs?: number;
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

/** Who asked to watch what, until when: leases on all devices, and on some. */
type Leases = {
  add(deviceIds: readonly string[] | undefined, untilMs: number): void;
  /** When the last lease covering this device ends. */
  wantedUntil(ref: string): number;
  forget(ref: string): void;
  /** Forgets device leases that ended more than `lingerMs` before `nowMs`. */
  prune(nowMs: number, lingerMs: number): void;
};

function createLeases(): Leases {
  let allUntilMs = 0;
  const deviceUntilMs = new Map<string, number>();
  return {
    add(deviceIds, untilMs) {
      if (deviceIds === undefined) allUntilMs = Math.max(allUntilMs, untilMs);
      else for (const ref of deviceIds) deviceUntilMs.set(ref, Math.max(deviceUntilMs.get(ref) ?? 0, untilMs));
    },
    wantedUntil: (ref) => Math.max(allUntilMs, deviceUntilMs.get(ref) ?? 0),
    forget(ref) {
      deviceUntilMs.delete(ref);
    },
    prune(nowMs, lingerMs) {
      for (const [ref, until] of deviceUntilMs) if (until + lingerMs < nowMs) deviceUntilMs.delete(ref);
    },
  };
}

/** `health.changed` at most once per interval: what changed meanwhile leaves in one event. */
type ChangeEmitter = {
  addSample(sample: DeviceSample): void;
  /** Sends the changes soon: at once if the last event is old enough, else when it is. */
  schedule(): void;
  close(): void;
};

function createChangeEmitter(options: { now: () => number; intervalMs: number; changedViews: () => DeviceHealthView[]; events: EventBus }): ChangeEmitter {
  let pendingSamples: DeviceSample[] = [];
  let lastEmitMs = 0;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  function flush(): void {
    timer = null;
    if (closed) return;
    const changed = options.changedViews();
    const samples = pendingSamples;
    pendingSamples = [];
    if (changed.length === 0 && samples.length === 0) return;
    lastEmitMs = options.now();
    options.events.emit('health.changed', { views: changed, samples });
  }

  return {
    addSample(sample) {
      pendingSamples.push(sample);
    },
    schedule() {
      if (timer !== null || closed) return;
      const wait = Math.max(0, lastEmitMs + options.intervalMs - options.now());
      // Even with no wait, go through the timer queue: samples of several devices that
      // arrive together leave in one event.
      timer = setTimeout(flush, wait);
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
    },
  };
}

function requireDevice(devices: DeviceStore, ref: string): Device {
  const device = devices.find(ref);
  if (!device) {
    throw new FieldkitError(appError('NOT_FOUND', `There is no device ${ref}.`, 'List devices with `fieldkit devices` (or the Devices screen) and use one of their ids.', 'deviceId'));
  }
  return device;
}

/** Starts following one device; its samples and link changes go to `on`. */
function startWatching(
  options: HealthServiceOptions,
  device: Device,
  state: DeviceState,
  on: { onSample(state: DeviceState, sample: HealthSample): void; onLinkChange(): void },
): void {
  state.link = state.sample === null ? 'connecting' : state.link;
  state.watcher = startDeviceWatcher({
    ...options.watcher,
    device: () => options.devices.find(device.id),
    appKey: () => options.appKey(),
    serialPassword: (d) => options.serialPassword(d),
    onSample: (sample) => {
      on.onSample(state, sample);
    },
    onLink: (link, error) => {
      state.link = link;
      state.linkError = error;
      on.onLinkChange();
    },
  });
}

/** Stops every watcher, waiting at most 3 s: one in the middle of connecting finishes its attempt first, and must not hold the app's exit. */
async function stopAllWatchers(states: Iterable<DeviceState>, beforeStop: (state: DeviceState) => void): Promise<void> {
  const watchers: DeviceWatcher[] = [];
  for (const state of states) {
    beforeStop(state);
    if (state.watcher) watchers.push(state.watcher);
    state.watcher = null;
  }
  await Promise.race([Promise.all(watchers.map((w) => w.stop())), new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
}

/** Another domain's alerts for a device; one that throws costs its alerts, never the health view. */
function extraAlertsSafely(extra: HealthServiceOptions['extraAlerts'], ref: string, onError: (error: unknown) => void): HealthAlert[] {
  try {
    return extra?.(ref) ?? [];
  } catch (error) {
    onError(error);
    return [];
  }
}

/**
 * Devices shows the store's "last seen"; Health shows the newest sample. Writing each sample's
 * time to the store (at most every `intervalMs`, and the newest when the link closes) keeps
 * them one truth instead of "2 min ago" beside "0 s ago".
 */
function writeSeen(devices: DeviceStore, state: DeviceState, how: { force: boolean; intervalMs: number; onError: (error: unknown) => void }): void {
  const at = state.lastSampleMs;
  if (at === null || at === state.seenWrittenMs) return;
  if (!how.force && state.seenWrittenMs !== null && at - state.seenWrittenMs < how.intervalMs) return;
  state.seenWrittenMs = at;
  try {
    devices.recordSeen(state.ref, at);
  } catch (error) {
    how.onError(error);
  }
}

/** Closes a device's link, its newest sample written as its "last seen" first. */
function stopWatcher(devices: DeviceStore, state: DeviceState, seen: { intervalMs: number; onError: (error: unknown) => void }): void {
  writeSeen(devices, state, { force: true, ...seen });
  const watcher = state.watcher;
  state.watcher = null;
  watcher?.stop().catch(seen.onError);
}

export function createHealthService(options: HealthServiceOptions): HealthService {
  const now = options.now ?? Date.now;
  const lingerMs = options.lingerMs ?? 30_000;
  const onError = options.onError ?? ((error: unknown) => { console.error(error); });
  const seen = { intervalMs: options.seenWriteMs ?? SEEN_WRITE_MS, onError };
  let thresholds = options.thresholds;
  const leases = createLeases();
  const states = new Map<string, DeviceState>();
  let closed = false;

  const extraAlertsOf = (ref: string): HealthAlert[] => extraAlertsSafely(options.extraAlerts, ref, onError);

  function reevaluate(state: DeviceState): void {
    judgeAlerts(state, thresholds, now());
  }

  /** The views that differ from what was last sent, marked as sent. */
  function changedViews(): DeviceHealthView[] {
    const changed: DeviceHealthView[] = [];
    for (const device of options.devices.list()) {
      const state = states.get(device.id);
      if (!state) continue;
      const view = viewOf(device, state, extraAlertsOf(device.id));
      const key = viewKey(view);
      if (key === state.sentKey) continue;
      state.sentKey = key;
      changed.push(view);
    }
    return changed;
  }

  const emitter = createChangeEmitter({ now, intervalMs: options.emitIntervalMs ?? 250, changedViews, events: options.events });

  function onSample(state: DeviceState, sample: HealthSample): void {
    recordSample(state, sample, now());
    writeSeen(options.devices, state, { force: false, ...seen });
    reevaluate(state);
    emitter.addSample({ deviceId: state.ref, sample });
    emitter.schedule();
  }

  const stopWatching = (state: DeviceState): void => { stopWatcher(options.devices, state, seen); };

  /** Starts and stops watchers to match the leases, and notices devices that went quiet. */
  function tick(): void {
    if (closed) return;
    const t = now();
    const known = new Set<string>();
    for (const device of options.devices.list()) {
      known.add(device.id);
      const state = states.get(device.id);
      if (t < leases.wantedUntil(device.id) + lingerMs) {
        let s = state;
        if (!s) {
          s = newDeviceState(device.id);
          states.set(device.id, s);
        }
        if (!s.watcher) startWatching(options, device, s, { onSample, onLinkChange: () => { emitter.schedule(); } });
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
      leases.forget(ref);
    }
    leases.prune(t, lingerMs);
    emitter.schedule();
  }

  const ticker = setInterval(tick, options.tickMs ?? 1000);

  return {
    watch(deviceIds, leaseSeconds) {
      const until = now() + leaseSeconds * 1000;
      for (const ref of deviceIds ?? []) requireDevice(options.devices, ref);
      leases.add(deviceIds, until);
      tick();
      const watching = [...states.values()].filter((s) => s.watcher !== null).map((s) => s.ref);
      return { watching, leaseUntilMs: until };
    },
    fleet() {
      const views = options.devices.list().map((device) => viewOf(device, states.get(device.id), extraAlertsOf(device.id)));
      return views.sort((a, b) => statusRank(a.status) - statusRank(b.status) || a.deviceName.localeCompare(b.deviceName));
    },
    device(ref) {
      const device = requireDevice(options.devices, ref);
      const state = states.get(ref);
      return { view: viewOf(device, state, extraAlertsOf(ref)), recent: state ? [...state.recent] : [] };
    },
    thresholds: () => thresholds,
    setThresholds(next) {
      thresholds = next;
      for (const state of states.values()) reevaluate(state);
      emitter.schedule();
    },
    async close() {
      closed = true;
      clearInterval(ticker);
      emitter.close();
      await stopAllWatchers(states.values(), (state) => { writeSeen(options.devices, state, { force: true, ...seen }); });
    },
  };
}
