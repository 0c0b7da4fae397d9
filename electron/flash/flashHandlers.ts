/**
 * The flash.* methods of the app API. IN PROGRESS: the handlers below are being written
 * (flash.browse by the Flash screen work, flash.inspect/flash.start by the flash job work);
 * until then they answer UNAVAILABLE rather than pretending.
 */
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { ApiHandlers } from '../api/dispatch.ts';
import type { JobRunner } from '../jobs/jobRunner.ts';
import type { Store } from '../store/openStore.ts';
import { browseImages } from './browseImages.ts';

type FlashMethods = 'flash.browse' | 'flash.inspect' | 'flash.start';

export type FlashHandlerDeps = { db: Store; jobs: JobRunner; dataDir: string };

function notYet(method: FlashMethods): Promise<never> {
  return Promise.reject(new FieldkitError(appError('UNAVAILABLE', `${method} is not built yet.`, 'Use `fieldkit image verify` for now.')));
}

export function createFlashHandlers(deps: FlashHandlerDeps): Pick<ApiHandlers, FlashMethods> {
  return {
    'flash.browse': ({ dir }) => browseImages(deps.db, dir),
    'flash.inspect': () => notYet('flash.inspect'),
    'flash.start': () => notYet('flash.start'),
  };
}
