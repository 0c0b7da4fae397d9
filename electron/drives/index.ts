/**
 * The drives domain: the drives attached to this computer (which may be flashed, which
 * must not) and read checks of them. What it offers the other domains is exported here.
 */
import { defineDomain } from '../kernel/domain.ts';
import { serviceKey } from '../kernel/domainServices.ts';
import { addDriveCommands } from './cli/driveCommands.ts';
import { createDrivesHandlers, type DrivesOptions } from './drivesHandlers.ts';
import { drivesJobKinds } from './jobKinds.ts';

export { listDrives } from './listDrives.ts';
export type { DrivesOptions } from './drivesHandlers.ts';

/** The app's choice to poll drives (default: no watcher). */
export const drivesOptions = serviceKey<DrivesOptions>('drives options');

export const drivesDomain = defineDomain({
  name: 'drives',
  jobKinds: drivesJobKinds,
  start(kernel, services) {
    const drives = createDrivesHandlers({ ...kernel, options: services.find(drivesOptions) ?? { watch: false } });
    return {
      handlers: drives.handlers,
      close: () => {
        drives.close();
        return Promise.resolve();
      },
    };
  },
  cliCommands: [addDriveCommands],
  cliCommandFor: { 'drives.list': 'drives list', 'drives.readCheck': 'drives check' },
});
