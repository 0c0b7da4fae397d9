/**
 * The health domain: live health of the devices (links held while someone watches),
 * alerts against thresholds, and the stored per-minute history.
 */
import { backupFreshnessService } from '../backup/index.ts';
import { liveJournalSampleService } from '../courier/index.ts';
import { devicesService } from '../devices/index.ts';
import { drillFreshnessService } from '../recovery/index.ts';
import { defineDomain } from '../kernel/domain.ts';
import { serviceKey } from '../kernel/domainServices.ts';
import { addHealthCommands } from './cli/healthCommands.ts';
import { createHealthHandlers } from './healthHandlers.ts';
import { createHealthService } from './healthService.ts';
import { healthService } from './healthServiceKey.ts';
import { loadHealthThresholds } from './healthSettingsStore.ts';
import { liveJournalSample } from './liveJournalSample.ts';

export { healthService } from './healthServiceKey.ts';
export type { HealthService } from './healthService.ts';

/** How long a device's health link stays open after the last lease on it ends (default 30 s). */
export const healthLingerMs = serviceKey<number>('the health link linger');

export const healthDomain = defineDomain({
  name: 'health',
  jobKinds: {},
  start(kernel, services) {
    const devices = services.use(devicesService);
    const lingerMs = services.find(healthLingerMs);
    const health = createHealthService({
      devices: devices.store,
      events: kernel.events,
      thresholds: loadHealthThresholds(kernel.db),
      appKey: () => devices.appKey(),
      serialPassword: (device) => devices.serialPassword(device),
      onError: kernel.onError,
      // Looked up each time: the backup and recovery domains may be absent from a process.
      extraAlerts: (ref) => [...(services.find(backupFreshnessService)?.(ref) ?? []), ...(services.find(drillFreshnessService)?.(ref) ?? [])],
      ...(lingerMs === undefined ? {} : { lingerMs }),
    });
    services.provide(healthService, health);
    services.provide(liveJournalSampleService, (ref) => liveJournalSample(health, ref));
    return {
      handlers: createHealthHandlers({ db: kernel.db, devices: devices.store, health }),
      close: () => health.close(),
    };
  },
  cliCommands: [addHealthCommands],
  cliCommandFor: {
    'health.watch': 'health DEVICE',
    'health.fleet': 'health',
    'health.device': 'health DEVICE',
    'health.history': 'health DEVICE --history',
    'settings.health.get': 'settings health',
    'settings.health.set': 'settings health',
  },
});
