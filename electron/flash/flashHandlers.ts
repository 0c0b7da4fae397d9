/**
 * The flash.* methods of the app API: browse for an image (browseImages.ts), inspect it
 * (inspectImage.ts), and start a flash (startFlash.ts → the `flash.write` job).
 */
import type { ApiHandlers } from '../kernel/api/dispatch.ts';
import type { JobRunner } from '../kernel/jobs/jobRunner.ts';
import type { flashJobKinds } from './jobKinds.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { expandUserPath } from '../kernel/paths/userPath.ts';
import { browseImages } from './browseImages.ts';
import { rememberRecentImage } from './recentImagesStore.ts';
import { inspectImage } from './inspectImage.ts';
import { startFlash } from './startFlash.ts';

type FlashMethods = 'flash.browse' | 'flash.inspect' | 'flash.start';

export type FlashHandlerDeps = { db: Store; jobs: JobRunner<typeof flashJobKinds>; dataDir: string };

export function createFlashHandlers(deps: FlashHandlerDeps): Pick<ApiHandlers, FlashMethods> {
  return {
    // Paths come as a person typed them: `~/Downloads/…` is expanded here, once, for every carrier.
    'flash.browse': ({ dir }) => browseImages(deps.db, dir === undefined ? undefined : expandUserPath(dir)),
    'flash.inspect': async (request) => {
      const imagePath = expandUserPath(request.imagePath);
      const image = await inspectImage(deps.db, imagePath);
      rememberRecentImage(deps.db, imagePath);
      return { image };
    },
    'flash.start': (request) => startFlash(deps, { ...request, imagePath: expandUserPath(request.imagePath) }),
  };
}
