/**
 * The flash domain: browse and inspect images, the trust store's keys, and writing an
 * image to one or more drives (the writer, the elevated helper, first-boot files).
 */
import type { Command } from 'commander';
import type { CliContext } from '../kernel/cli/cliContext.ts';
import { defineDomain } from '../kernel/domain.ts';
import { addFlashCommands } from './cli/flashCommands.ts';
import { addImageCommands } from './cli/imageCommands.ts';
import { addImageListCommand } from './cli/imageListCommand.ts';
import { addTrustCommands } from './cli/trustCommands.ts';
import { createFlashHandlers } from './flashHandlers.ts';
import { flashJobKinds } from './jobKinds.ts';
import { createTrustHandlers } from './trustHandlers.ts';

// For recovery's replace onto a drive: the image library and the flash engine itself.
export { recentImages } from './recentImagesStore.ts';
export { runFlashJob } from './flashJob.ts';

/** `fieldkit image …`: pack and verify work on local files; inspect asks the app (the trust store). */
function addImageGroup(program: Command, ctx: CliContext): void {
  addImageCommands(
    program,
    ctx.io,
    () => ctx.json(),
    async () => (await ctx.call('trust.list', {})).keys,
    async (imagePath) => (await ctx.call('flash.inspect', { imagePath })).image,
  );
}

export const flashDomain = defineDomain({
  name: 'flash',
  jobKinds: flashJobKinds,
  start: (kernel) => ({ handlers: { ...createFlashHandlers(kernel), ...createTrustHandlers(kernel) } }),
  // `image list` joins the `image` group the first registrar makes.
  cliCommands: [addImageGroup, addImageListCommand, addTrustCommands, addFlashCommands],
  cliCommandFor: {
    'trust.list': 'trust list',
    'trust.import': 'trust import',
    'trust.revoke': 'trust revoke',
    'settings.flash.get': 'settings flash',
    'settings.flash.set': 'settings flash',
    'flash.browse': 'image list',
    'flash.inspect': 'image inspect',
    'flash.start': 'flash',
  },
});
