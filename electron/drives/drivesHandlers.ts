/**
 * The drives.* methods of the app API: the attached drives (from the watcher, when the app
 * polls them) and a read check of one, as a `drives.readCheck` job.
 */
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { ApiHandlers } from '../kernel/api/dispatch.ts';
import type { EventBus } from '../kernel/api/eventBus.ts';
import type { JobRunner } from '../kernel/jobs/jobRunner.ts';
import { watchDeviceNodes } from './deviceNodeEvents.ts';
import { startDriveWatcher, type DriveWatcher } from './driveWatcher.ts';
import type { drivesJobKinds } from './jobKinds.ts';
import { listDrives } from './listDrives.ts';

type DriveMethods = 'drives.list' | 'drives.readCheck';

/** Whether the app polls drives in the background and emits drives.changed (UI carriers do; the CLI does not). */
export type DrivesOptions = { watch: boolean; intervalMs?: number };

export function createDrivesHandlers(deps: { events: EventBus; jobs: JobRunner<typeof drivesJobKinds>; dataDir: string; options: DrivesOptions; onError: (error: unknown) => void }): {
  handlers: Pick<ApiHandlers, DriveMethods>;
  close(): void;
} {
  const { events, jobs, dataDir } = deps;
  const listAll = () => listDrives({ dataDir });
  const watcher: DriveWatcher | null = deps.options.watch
    ? startDriveWatcher({
        list: listAll,
        onChange: (drives) => {
          events.emit('drives.changed', { drives });
        },
        onError: deps.onError,
        ...(deps.options.intervalMs ? { intervalMs: deps.options.intervalMs } : {}),
      })
    : null;
  const stopNodeEvents = watcher ? watchDeviceNodes(() => { watcher.nudge(); }) : () => undefined;

  const handlers: Pick<ApiHandlers, DriveMethods> = {
    'drives.list': async ({ imageSizeBytes }) => {
      if (imageSizeBytes === undefined) return { drives: watcher ? await watcher.refresh() : await listAll() };
      return { drives: await listDrives({ dataDir, imageSizeBytes }) };
    },
    'drives.readCheck': async ({ device, maxBytes }) => {
      const drives = await listAll();
      const drive = drives.find((d) => d.device === device || d.raw === device);
      if (!drive) {
        throw new FieldkitError(
          appError('NOT_FOUND', `No drive ${device} is attached.`, 'Pick a drive from the drive list (`fieldkit drives`); it may have been unplugged.', 'device'),
        );
      }
      if (drive.sizeBytes === null) {
        throw new FieldkitError(appError('UNAVAILABLE', `${device} reports no size, so there is nothing to read.`, 'Reinsert the card or drive and try again.'));
      }
      const job = jobs.start('drives.readCheck', { device: drive.raw, sizeBytes: drive.sizeBytes, ...(maxBytes ? { maxBytes } : {}) });
      return { jobId: job.id };
    },
  };
  return {
    handlers,
    close() {
      stopNodeEvents();
      watcher?.stop();
    },
  };
}
