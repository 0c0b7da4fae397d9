/**
 * The provision domain: a fresh Pi set up over its serial console (hostname, user, network,
 * fieldkit's SSH key) and registered as an SSH device with its host key pinned.
 */
import { devicesService } from '../devices/index.ts';
import { defineDomain } from '../kernel/domain.ts';
import { addProvisionCommand } from './cli/provisionCommand.ts';
import { provisionJobKinds } from './jobKinds.ts';
import { createProvisionHandlers } from './provisionHandlers.ts';

export const provisionDomain = defineDomain({
  name: 'provision',
  jobKinds: provisionJobKinds,
  start: (kernel, services) => ({ handlers: createProvisionHandlers({ ...kernel, devices: services.use(devicesService).store }) }),
  cliCommands: [addProvisionCommand],
  cliCommandFor: { 'devices.provision': 'provision' },
});
