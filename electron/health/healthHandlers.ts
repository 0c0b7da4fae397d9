/** The health.* and settings.health.* methods of the app API. */
import type { ApiHandlers } from '../kernel/api/dispatch.ts';
import { createCourierStore, createHealthHistoryStore } from '../courier/index.ts';
import type { DeviceStore } from '../devices/index.ts';
import type { Store } from '../kernel/store/openStore.ts';
import type { HealthService } from './healthService.ts';
import { applyHealthThresholdsPatch, loadHealthThresholds, saveHealthThresholds } from './healthSettingsStore.ts';

type HealthMethods = 'health.watch' | 'health.fleet' | 'health.device' | 'health.history' | 'settings.health.get' | 'settings.health.set';

/** Enough history for a timeline: two weeks of minutes. */
const HISTORY_LIMIT = 14 * 24 * 60;

export function createHealthHandlers(deps: { db: Store; devices: DeviceStore; health: HealthService }): Pick<ApiHandlers, HealthMethods> {
  const { db, devices, health } = deps;
  const courier = createCourierStore(db);
  const healthHistory = createHealthHistoryStore(db);
  return {
    'health.watch': ({ deviceIds, leaseSeconds }) => Promise.resolve(health.watch(deviceIds, leaseSeconds)),
    'health.fleet': () => Promise.resolve({ views: health.fleet() }),
    'health.device': ({ deviceId }) => Promise.resolve(health.device(deviceId)),
    'health.history': ({ deviceId, sinceMs }) => {
      const device = devices.get(deviceId);
      // Pulls store history under the agent's own device id, learnt at the first contact.
      if (device.agentDeviceId === null) return Promise.resolve({ deviceId, minutes: [], events: [], pulledAtMs: null });
      const history = healthHistory.read(device.agentDeviceId, sinceMs ?? 0, HISTORY_LIMIT);
      return Promise.resolve({ deviceId, ...history, pulledAtMs: courier.lastPullEndedMs(deviceId) });
    },
    'settings.health.get': () => Promise.resolve({ thresholds: loadHealthThresholds(db) }),
    'settings.health.set': (patch) => {
      const next = applyHealthThresholdsPatch(loadHealthThresholds(db), patch);
      saveHealthThresholds(db, next);
      health.setThresholds(next);
      return Promise.resolve({ thresholds: next });
    },
  };
}
