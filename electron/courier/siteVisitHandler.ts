/** `courier.visit`: which devices a site visit takes, and starting its job. */
import type { ParsedRequestOf, ResponseOf } from '../../shared/api.ts';
import type { Device } from '../../shared/devices.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { serialPasswordSecret, type DeviceStore } from '../devices/index.ts';
import type { JobRunner } from '../kernel/jobs/jobRunner.ts';
import { isProcessAlive } from '../kernel/jobs/jobStore.ts';
import type { SecretStore } from '../kernel/secrets/secretStore.ts';
import type { courierJobKinds } from './jobKinds.ts';
import { visitPasswordSecret } from './siteVisitJob.ts';

type VisitDeps = { jobs: JobRunner<typeof courierJobKinds>; devices: DeviceStore; dataDir: string; secrets: SecretStore };

/** The devices a request names, in the device list's order, and the words for them. */
export function selectVisitDevices(all: readonly Device[], request: ParsedRequestOf<'courier.visit'>): { devices: Device[]; scope: string } {
  if (request.site !== undefined) {
    const site = request.site;
    const devices = all.filter((d) => d.site === site);
    if (devices.length === 0) {
      const sites = [...new Set(all.map((d) => d.site).filter((s) => s !== ''))].sort();
      throw new FieldkitError(appError('NOT_FOUND', `No device on this laptop is at site "${site}".`, sites.length === 0 ? 'Give devices a site on Devices (or fieldkit devices update), then visit it.' : `Sites known here: ${sites.join(', ')}.`, 'site'));
    }
    return { devices, scope: `site ${site}` };
  }
  if (request.ids !== undefined) {
    const wanted = new Set(request.ids);
    const devices = all.filter((d) => wanted.has(d.id));
    const missing = request.ids.filter((id) => !devices.some((d) => d.id === id));
    if (missing.length > 0) throw new FieldkitError(appError('NOT_FOUND', `No device has id ${missing.join(', ')}.`, 'List them with `fieldkit devices list` and use their ids.', 'ids'));
    return { devices, scope: devices.length === 1 ? (devices[0]?.name ?? '1 device') : `${devices.length} devices` };
  }
  if (all.length === 0) throw new FieldkitError(appError('NOT_FOUND', 'There are no devices on this laptop to visit.', 'Add devices on Devices (or fieldkit devices add), then pull them.'));
  return { devices: [...all], scope: 'all devices' };
}

export function createVisitHandler(deps: VisitDeps): (request: ParsedRequestOf<'courier.visit'>) => Promise<ResponseOf<'courier.visit'>> {
  return async (request) => {
    // Two visits at once would pull the same devices twice over (harmless, but the slots are for one).
    const running = deps.jobs.list({ limit: 50, state: 'running' }).find((job) => job.kind === 'courier.visit');
    if (running !== undefined && (deps.jobs.workerPid(running.id) !== undefined || isProcessAlive(deps.jobs.ownerPid(running.id) ?? -1))) {
      throw new FieldkitError(appError('CONFLICT', `A visit is already running (${running.id}).`, `Wait for it to finish, or cancel it (fieldkit jobs cancel ${running.id}).`));
    }
    const { devices, scope } = selectVisitDevices(deps.devices.list(), request);
    // A serial console may ask for a login: its saved password travels as a secret, never in job history.
    const secrets: Record<string, string> = {};
    for (const device of devices) {
      if (device.link.kind !== 'serial') continue;
      const password = await deps.secrets.get(serialPasswordSecret(device.id));
      if (password) secrets[visitPasswordSecret(device.id)] = password;
    }
    const job = deps.jobs.start(
      'courier.visit',
      { dataDir: deps.dataDir, scope, parallel: request.parallel, devices: devices.map((d) => ({ deviceRef: d.id, deviceName: d.name })) },
      Object.keys(secrets).length > 0 ? secrets : undefined,
    );
    return { jobId: job.id, devices: devices.length };
  };
}
