/**
 * The laptop-side services behind the app API: one instance per process (Electron main,
 * the web host, or a CLI invocation), all sharing the data folder's store.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { arch, platform } from 'node:os';
import type { AppInfo } from '../../shared/api.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { createEventBus, type EventBus } from '../kernel/api/eventBus.ts';
import type { ApiHandlers } from '../kernel/api/dispatch.ts';
import { createCourierHandlers, liveJournalSample } from '../courier/courierHandlers.ts';
import { createDeviceHandlers } from '../devices/deviceHandlers.ts';
import { serialPasswordSecret } from '../devices/deviceStore.ts';
import { createHealthHandlers } from '../health/healthHandlers.ts';
import { createHealthService, type HealthService } from '../health/healthService.ts';
import { loadHealthThresholds } from '../health/healthSettingsStore.ts';
import { demoSiteName, startDemoSite, type DemoSite } from '../demo/demoSite.ts';
import { startDemoClickHouse, type DemoClickHouse } from '../demo/demoClickHouse.ts';
import { adoptDemoClickHouse } from '../demo/demoClickHouseSettings.ts';
import { watchDeviceNodes } from '../drives/deviceNodeEvents.ts';
import { startDriveWatcher, type DriveWatcher } from '../drives/driveWatcher.ts';
import { listDrives } from '../drives/listDrives.ts';
import { createJobRunner, type JobRunner, type WorkerLaunch } from '../kernel/jobs/jobRunner.ts';
import { createJobStore, isProcessAlive } from '../kernel/jobs/jobStore.ts';
import { createFileSecretStore, type SecretStore } from '../kernel/secrets/secretStore.ts';
import { createFlashHandlers } from '../flash/flashHandlers.ts';
import { createRolloutHandlers } from '../deploy/rolloutHandlers.ts';
import { createProvisionHandlers } from '../provision/provisionHandlers.ts';
import { inspectBundle } from '../deploy/rolloutEngine.ts';
import { createTrustHandlers } from '../flash/trustHandlers.ts';
import { createSettingsHandlers } from '../courier/clickhouseSettingsHandlers.ts';
import { createSlotHandlers } from '../deploy/slots/slotHandlers.ts';
import { inspectOsImage, isOsImagePath } from '../deploy/slots/slotRollout.ts';
import { openStore } from '../kernel/store/openStore.ts';

export type { WorkerLaunch } from '../kernel/jobs/jobRunner.ts';

export type AppServices = {
  handlers: ApiHandlers;
  events: EventBus;
  info: AppInfo;
  jobs: JobRunner;
  /** Live health: the CLI's `health` view subscribes to it directly. */
  health: HealthService;
  close(): Promise<void>;
};

export type AppServicesOptions = {
  dataDir: string;
  version: string;
  worker?: WorkerLaunch;
  /** Poll drives in the background and emit drives.changed (UI carriers); the CLI does not. */
  watchDrives?: boolean;
  driveIntervalMs?: number;
  onError?: (error: unknown) => void;
  /**
   * Where secrets (the ClickHouse password) are kept. Default: a 0600 file in the data
   * folder (CLI, web host); electron/main.ts may pass one backed by Electron safeStorage.
   */
  secretStore?: SecretStore;
  /** How long a device's health link stays open after the last lease on it ends (default 30 s). */
  healthLingerMs?: number;
  /** Run the demo site (three local agents with synthetic producers): true, or 'auto' = only while no real device is registered. */
  demo?: boolean | 'auto';
};

export async function createAppServices(options: AppServicesOptions): Promise<AppServices> {
  const onError = options.onError ?? ((error: unknown) => { console.error(error); });
  // Private from the start: the data folder will hold SSH keys and pinned host keys.
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const events = createEventBus(onError);
  const db = openStore(options.dataDir);
  const jobStore = createJobStore(db);
  jobStore.failOrphans(Date.now(), isProcessAlive);
  const jobs = createJobRunner({ store: jobStore, bus: events, ...(options.worker ? { launch: options.worker } : {}) });
  const info: AppInfo = {
    name: 'fieldkit',
    version: options.version,
    dataDir: options.dataDir,
    platform: platform(),
    arch: arch(),
    runtime: `Node ${process.versions.node}${process.versions.electron ? `, Electron ${process.versions.electron}` : ''}`,
  };
  const listAll = () => listDrives({ dataDir: options.dataDir });
  const watcher: DriveWatcher | null = options.watchDrives
    ? startDriveWatcher({
        list: listAll,
        onChange: (drives) => {
          events.emit('drives.changed', { drives });
        },
        onError,
        ...(options.driveIntervalMs ? { intervalMs: options.driveIntervalMs } : {}),
      })
    : null;
  const stopNodeEvents = watcher ? watchDeviceNodes(() => { watcher.nudge(); }) : () => undefined;

  const secrets = options.secretStore ?? createFileSecretStore(options.dataDir);
  const devices = createDeviceHandlers({ db, events, jobs, dataDir: options.dataDir, secrets });

  const health = createHealthService({
    devices: devices.devices,
    events,
    thresholds: loadHealthThresholds(db),
    appKey: () => devices.appKey(),
    serialPassword: async (device) => {
      const password = await secrets.get(serialPasswordSecret(device.id));
      return password === null || password === '' ? undefined : password;
    },
    onError,
    ...(options.healthLingerMs === undefined ? {} : { lingerMs: options.healthLingerMs }),
  });

  const rollouts = createRolloutHandlers({ db, events, jobs, devices: devices.devices, dataDir: options.dataDir, secrets, inspect: (file, keys) => (isOsImagePath(file) ? inspectOsImage(file, keys) : inspectBundle(file, keys)) });

  const handlers: ApiHandlers = {
    ...devices.handlers,
    ...createProvisionHandlers({ devices: devices.devices, jobs, events, secrets, dataDir: options.dataDir }),
    ...rollouts.handlers,
    ...createCourierHandlers({ db, jobs, devices: devices.devices, dataDir: options.dataDir, secrets, liveSample: (ref) => liveJournalSample(health, ref) }),
    ...createSettingsHandlers({ db, secrets }),
    ...createTrustHandlers({ db }),
    ...createSlotHandlers({ db, jobs, devices: devices.devices, dataDir: options.dataDir }),
    ...createHealthHandlers({ db, devices: devices.devices, health }),
    'app.info': () => Promise.resolve(info),
    'drives.list': async ({ imageSizeBytes }) => {
      if (imageSizeBytes === undefined) return { drives: watcher ? await watcher.refresh() : await listAll() };
      return { drives: await listDrives({ dataDir: options.dataDir, imageSizeBytes }) };
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
    'jobs.list': ({ limit, state }) => Promise.resolve({ jobs: jobs.list({ limit: limit ?? 50, state }) }),
    'jobs.get': ({ jobId }) => {
      const job = jobs.get(jobId);
      if (!job) throw new FieldkitError(appError('NOT_FOUND', `There is no job ${jobId}.`, 'List jobs with `fieldkit jobs` and use one of their ids.', 'jobId'));
      return Promise.resolve({ job });
    },
    'jobs.cancel': async ({ jobId }) => ({ job: await jobs.cancel(jobId) }),
    ...createFlashHandlers({ db, jobs, dataDir: options.dataDir }),
  };

  const wantsDemo =
    options.demo === true || (options.demo === 'auto' && devices.devices.list().every((d) => d.site === demoSiteName));
  const demo: DemoSite | null = wantsDemo ? await startDemoSite({ dataDir: options.dataDir, devices: devices.devices }) : null;
  if (demo) events.emit('devices.changed', { devices: devices.devices.list() });
  let demoClickHouse: DemoClickHouse | null = null;
  if (demo) {
    const demoDir = join(options.dataDir, 'demo');
    const outcome = await startDemoClickHouse({ demoDir });
    if ('started' in outcome) {
      demoClickHouse = outcome.started;
      info.demo = { clickhouse: { url: outcome.started.url, settings: adoptDemoClickHouse(db, outcome.started.url, demoDir) } };
    } else {
      info.demo = { clickhouse: outcome };
    }
  }

  return {
    handlers,
    events,
    info,
    jobs,
    health,
    async close() {
      stopNodeEvents();
      watcher?.stop();
      await health.close();
      await jobs.close();
      await demo?.stop();
      await demoClickHouse?.stop();
      db.close();
    },
  };
}
