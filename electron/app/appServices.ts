/**
 * The laptop-side services behind the app API: one instance per process (Electron main,
 * the web host, or a CLI invocation), all sharing the data folder's store. The kernel's
 * services are made here; every domain of app/domains.ts is started on them, in order, and
 * its handlers join the API.
 */
import { mkdir } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { methods, type AppInfo, type MethodName } from '../../shared/api.ts';
import { createEventBus, type EventBus } from '../kernel/api/eventBus.ts';
import type { ApiHandlers } from '../kernel/api/dispatch.ts';
import type { KernelServices, StartedDomain } from '../kernel/domain.ts';
import { createDomainServices, type DomainServices, type ServiceKey } from '../kernel/domainServices.ts';
import { createJobHandlers } from '../kernel/jobs/jobHandlers.ts';
import { createJobRunner, type JobRunner, type WorkerLaunch } from '../kernel/jobs/jobRunner.ts';
import { createJobStore, isProcessAlive } from '../kernel/jobs/jobStore.ts';
import { createFileSecretStore, type SecretStore } from '../kernel/secrets/secretStore.ts';
import { openStore } from '../kernel/store/openStore.ts';
import { demoOption } from '../demo/index.ts';
import { slotPlatformOption, type SlotPlatform } from '../deploy/index.ts';
import { drivesOptions } from '../drives/index.ts';
import { healthLingerMs, healthService, type HealthService } from '../health/index.ts';
import { domains, jobKinds, type AppJobKinds, type DomainMethods } from './domains.ts';
import { defaultWorkerLaunch } from './jobWorkerLaunch.ts';

export type { WorkerLaunch } from '../kernel/jobs/jobRunner.ts';

export type AppServices = {
  handlers: ApiHandlers;
  events: EventBus;
  info: AppInfo;
  jobs: JobRunner<AppJobKinds>;
  /** Live health: the CLI's `health` view subscribes to it directly. */
  health: HealthService;
  /** A service a domain provides, by the key its index.ts exports. */
  use<T>(key: ServiceKey<T>): T;
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
  /** Slot updates against virtual Pis (tests): where their firmware files are. Unset for real Pis. */
  slotPlatform?: SlotPlatform;
};

export async function createAppServices(options: AppServicesOptions): Promise<AppServices> {
  const onError = options.onError ?? ((error: unknown) => { console.error(error); });
  // Private from the start: the data folder will hold SSH keys and pinned host keys.
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const events = createEventBus(onError);
  const db = openStore(options.dataDir);
  const jobStore = createJobStore(db);
  jobStore.failOrphans(Date.now(), isProcessAlive);
  const jobs = createJobRunner({ kinds: jobKinds, store: jobStore, bus: events, launch: options.worker ?? defaultWorkerLaunch() });
  const info: AppInfo = {
    name: 'fieldkit',
    version: options.version,
    dataDir: options.dataDir,
    platform: platform(),
    arch: arch(),
    runtime: `Node ${process.versions.node}${process.versions.electron ? `, Electron ${process.versions.electron}` : ''}`,
  };
  const secrets = options.secretStore ?? createFileSecretStore(options.dataDir);
  const kernel: KernelServices = { db, events, jobs, dataDir: options.dataDir, secrets, info, onError };
  const services = domainOptions(options);

  const started: StartedDomain[] = [];
  async function stopDomains(): Promise<void> {
    for (const domain of started.reverse()) await domain.close?.();
  }
  try {
    for (const domain of domains) started.push(await domain.start(kernel, services));
  } catch (error) {
    // Nothing half-started is left running: the domains already up are stopped again.
    await jobs.close();
    await stopDomains();
    db.close();
    throw error;
  }

  const handlers = composeHandlers(started, {
    'app.info': () => Promise.resolve(info),
    ...createJobHandlers(jobs),
  });

  return {
    handlers,
    events,
    info,
    jobs,
    health: services.use(healthService),
    use: (key) => services.use(key),
    async close() {
      await jobs.close();
      await stopDomains();
      db.close();
    },
  };
}

/** The options some domains take, provided under the keys their index.ts exports. */
function domainOptions(options: AppServicesOptions): DomainServices {
  const services = createDomainServices();
  services.provide(drivesOptions, { watch: options.watchDrives === true, ...(options.driveIntervalMs ? { intervalMs: options.driveIntervalMs } : {}) });
  services.provide(demoOption, options.demo ?? false);
  if (options.healthLingerMs !== undefined) services.provide(healthLingerMs, options.healthLingerMs);
  if (options.slotPlatform !== undefined) services.provide(slotPlatformOption, options.slotPlatform);
  return services;
}

/**
 * Every domain's handlers and the app's own as one table. `own` must cover every method no
 * domain handles (a compile error otherwise); a method that still has no handler at run
 * time is a bug said at startup.
 */
function composeHandlers(started: readonly StartedDomain[], own: Pick<ApiHandlers, Exclude<MethodName, DomainMethods>>): ApiHandlers {
  const handlers: Partial<ApiHandlers> = { ...own };
  for (const domain of started) Object.assign(handlers, domain.handlers);
  const missing = (Object.keys(methods) as MethodName[]).filter((method) => handlers[method] === undefined);
  if (missing.length > 0) throw new Error(`No domain handles ${missing.join(', ')}.`);
  // Every method checked just above.
  return handlers as ApiHandlers;
}
