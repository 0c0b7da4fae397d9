/**
 * The recovery domain (issue 15): a device's restore points, restoring classes of one onto a
 * device (the same one, a spare in a drill, a replacement), drills with RTO and RPO, and the
 * runbooks written from what ran. What the other domains may use of it is exported here.
 */
import { devicesService } from '../devices/index.ts';
import { createBackupRunStore } from '../backup/index.ts';
import { defineDomain } from '../kernel/domain.ts';
import { serviceKey } from '../kernel/domainServices.ts';
import { createDrillAlerts, type DrillAlerts } from './drillAlerts.ts';
import { createRecoveryRunStore } from './recoveryRunStore.ts';
import { addRecoveryCommands } from './cli/recoveryCommands.ts';
import { addReplaceCommand } from './cli/replaceCommand.ts';
import { recoveryJobKinds } from './jobKinds.ts';
import { createRecoveryHandlers } from './recoveryHandlers.ts';

export { restoreOnto, RestoreRefusedError, type RestoreOntoOptions, type RestoreOntoOutcome, type RestoreSource, type RestoreTarget } from './restoreOnto.ts';
export { createStepRecorder, type StepCommands, type StepRecorder } from './stepRecorder.ts';
export { createRecoveryRunStore, type NewRecoveryRun, type RecoveryRunStore } from './recoveryRunStore.ts';

/** A device's drill freshness as health alerts (`drill-stale`): the health domain lists them with the device's own. */
export const drillFreshnessService = serviceKey<DrillAlerts>('the drill freshness alerts');

export const recoveryDomain = defineDomain({
  name: 'recovery',
  jobKinds: recoveryJobKinds,
  start(kernel, services) {
    const devices = services.use(devicesService).store;
    services.provide(drillFreshnessService, createDrillAlerts(devices, createBackupRunStore(kernel.db), createRecoveryRunStore(kernel.db)));
    return { handlers: createRecoveryHandlers(kernel, devices) };
  },
  cliCommands: [addRecoveryCommands, addReplaceCommand],
  cliCommandFor: {
    'recovery.points': 'restore DEVICE --list',
    'recovery.restore': 'restore DEVICE',
    'recovery.drill': 'drill DEVICE --onto SPARE',
    'recovery.replace': 'replace DEVICE --onto SPARE',
    'recovery.history': 'drill --history',
    'recovery.runbook': 'drill --runbook ID',
  },
});
