/**
 * The deploy domain: signed agent and model bundles rolled out to devices in batches, and
 * signed OS images written to a Pi's inactive A/B slot (deploy/slots/), alone or as a
 * rollout; plus the signing commands that make those files.
 */
import { devicesService } from '../devices/index.ts';
import { defineDomain } from '../kernel/domain.ts';
import { serviceKey } from '../kernel/domainServices.ts';
import { addDeployCommands } from './cli/deployCommands.ts';
import { addSigningCommands } from './cli/signingCommands.ts';
import { addSlotCommands } from './cli/slotCommands.ts';
import { deployJobKinds } from './jobKinds.ts';
import { createRolloutHandlers } from './rolloutHandlers.ts';
import { createSlotHandlers } from './slots/slotHandlers.ts';
import type { SlotPlatform } from './slots/slotUpdate.ts';

export { SlotPlatformSchema } from './slots/slotJob.ts';
// Recovery's replace deploys the version a dead device ran through the same engine.
export { deployBundle } from './deployBundle.ts';
export { openBundle } from './signedBundle.ts';
export type { SlotPlatform } from './slots/slotUpdate.ts';

/**
 * Where slot updates find the Pi-side firmware files when the devices are not real Pis
 * (the virtual A/B Pi of the tests). Only whoever starts the app provides it; unset, the
 * real paths of a Pi are used.
 */
export const slotPlatformOption = serviceKey<SlotPlatform>('the slot platform');

export const deployDomain = defineDomain({
  name: 'deploy',
  jobKinds: deployJobKinds,
  start(kernel, services) {
    const devices = services.use(devicesService).store;
    const platform = services.find(slotPlatformOption);
    return {
      handlers: {
        ...createRolloutHandlers({ ...kernel, devices, slotPlatform: platform }).handlers,
        ...createSlotHandlers({ ...kernel, devices, platform }),
      },
    };
  },
  cliCommands: [(program, ctx) => { addSigningCommands(program, ctx.io, () => ctx.json()); }, addDeployCommands, addSlotCommands],
  cliCommandFor: {
    'deploy.inspect': 'bundle inspect',
    'deploy.start': 'rollout',
    'deploy.list': 'rollout list',
    'deploy.get': 'rollout show',
    'deploy.resume': 'rollout resume',
    'slots.update': 'slot-update',
  },
});
