/**
 * The courier domain: carries devices' journals to this laptop (pull), on to ClickHouse
 * (forward), checks they all arrived (reconcile), and keeps the ClickHouse settings. What
 * the other domains may use of it is exported here.
 */
import { defineDomain } from '../kernel/domain.ts';
import { serviceKey } from '../kernel/domainServices.ts';
import { devicesService } from '../devices/index.ts';
import { createSettingsHandlers } from './clickhouseSettingsHandlers.ts';
import { addCourierCommands } from './cli/courierCommands.ts';
import { addClickHouseSettingsCommand } from './cli/clickhouseSettingsCommand.ts';
import { addForwardCommands, addQuarantineCommands } from './cli/forwardCommands.ts';
import { createCourierHandlers, type LiveJournalSample } from './courierHandlers.ts';
import { courierJobKinds } from './jobKinds.ts';

export { createCourierStore, type CourierStore } from './courierStore.ts';
export { createHealthHistoryStore } from './healthHistoryStore.ts';
export { closeReplacedJournal, latestJournalOf, type ClosedJournal } from './journalSuccession.ts';
export { applyClickHouseSettingsPatch, loadClickHouseSettings, saveClickHouseSettings } from './clickhouseSettingsStore.ts';
export type { LiveJournalSample } from './courierHandlers.ts';

/** A device's newest live health sample, which reconcile compares with ClickHouse; the health domain provides it. */
export const liveJournalSampleService = serviceKey<LiveJournalSample>('the live journal sample');

export const courierDomain = defineDomain({
  name: 'courier',
  jobKinds: courierJobKinds,
  start(kernel, services) {
    // Looked up at each reconcile: the health domain starts after this one (and a process may run without it).
    const liveSample: LiveJournalSample = (ref) => services.find(liveJournalSampleService)?.(ref) ?? null;
    return {
      handlers: {
        ...createCourierHandlers({ ...kernel, devices: services.use(devicesService).store, liveSample }),
        ...createSettingsHandlers(kernel),
      },
    };
  },
  cliCommands: [addCourierCommands, addForwardCommands, addQuarantineCommands, addClickHouseSettingsCommand],
  cliCommandFor: {
    'courier.pull': 'pull',
    'courier.visit': 'pull',
    'courier.status': 'courier',
    'courier.forward': 'forward',
    'courier.reconcile': 'reconcile',
    'courier.quarantine.list': 'quarantine list',
    'courier.quarantine.retry': 'quarantine retry',
    'courier.quarantine.discard': 'quarantine discard',
    'settings.clickhouse.get': 'settings clickhouse',
    'settings.clickhouse.set': 'settings clickhouse',
    'settings.clickhouse.test': 'settings clickhouse --test',
  },
});
